"""The one refusal type of the service layer. Services raise it (or a subclass) with a Chinese
message, optional per-field messages, a machine-readable `code` and the HTTP `status` the API
answers with (gridgov/api.py); pages show the message next to the form."""


class ServiceError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, *, fields: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
