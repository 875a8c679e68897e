"""Django admin goes through the same choke point as pages and the API: a non-superuser staff
member's changelists hold only what their posts reach."""


class ScopedAdminMixin:
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.visible_to(request.user)
