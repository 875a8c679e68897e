"""Photos taken on the phone: a form field for several camera shots, checked by
cases.attachments.validate_upload (magic bytes and size, never the file name) and limited to
images; and storage helpers that remove the stored files again when the write they belong to fails.

The browser downscales photos before upload (gridgov/static/js/worker.js); without JavaScript the
original files arrive and the same checks apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..attachments import validate_upload
from ..models import Attachment

MAX_PHOTOS = 9


@dataclass
class CheckedPhoto:
    file: UploadedFile
    content_type: str
    sha256: str


class CameraInput(forms.FileInput):
    """`<input type=file accept="image/*" capture="environment" [multiple]>`."""

    allow_multiple_selected = True

    def __init__(self, *, multiple: bool = True, attrs: dict | None = None) -> None:
        base = {"accept": "image/*", "capture": "environment"}
        if multiple:
            base["multiple"] = True
        super().__init__(attrs={**base, **(attrs or {})})
        self.multiple = multiple

    def value_from_datadict(self, data, files, name):
        return files.getlist(name) if hasattr(files, "getlist") else files.get(name)


def check_photo(upload: UploadedFile, index: int | None = None) -> CheckedPhoto:
    prefix = _("第 %(n)d 张照片：") % {"n": index} if index else ""
    try:
        content_type, digest = validate_upload(upload)
    except ValidationError as exc:
        raise ValidationError(prefix + "；".join(exc.messages), code=exc.code) from None
    if not content_type.startswith("image/"):
        raise ValidationError(prefix + _("只能上传照片（JPEG、PNG、GIF、WebP、HEIC 图片）"), code="not_image")
    return CheckedPhoto(file=upload, content_type=content_type, sha256=digest)


class PhotosField(forms.Field):
    """Up to `max_files` photos; cleans to a list of CheckedPhoto (an empty list when optional)."""

    default_error_messages = {
        "required": gettext_lazy("请拍摄或选择照片"),
        "too_many": gettext_lazy("最多上传 %(max)d 张照片"),
    }

    def __init__(self, *, max_files: int = MAX_PHOTOS, **kwargs) -> None:
        self.max_files = max_files
        kwargs.setdefault("widget", CameraInput(multiple=max_files > 1))
        super().__init__(**kwargs)

    def clean(self, value) -> list[CheckedPhoto]:
        if value is None:
            uploads = []
        elif isinstance(value, (list, tuple)):
            uploads = [f for f in value if f]
        else:
            uploads = [value]
        if not uploads:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(uploads) > self.max_files:
            raise ValidationError(self.error_messages["too_many"] % {"max": self.max_files}, code="too_many")
        errors: list[ValidationError] = []
        checked = []
        numbered = len(uploads) > 1
        for index, upload in enumerate(uploads, start=1):
            try:
                checked.append(check_photo(upload, index if numbered else None))
            except ValidationError as exc:
                errors.append(exc)
        if errors:
            raise ValidationError(errors)
        return checked


class PhotoField(PhotosField):
    """A single optional photo (visits)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_files=1, **kwargs)

    def clean(self, value) -> CheckedPhoto | None:
        checked = super().clean(value)
        return checked[0] if checked else None


@contextmanager
def stored_files() -> Iterator[list]:
    """Collects the FieldFiles written inside the block and deletes them if the block fails, so a
    rolled-back write leaves no orphan files in MEDIA_ROOT."""
    written: list = []
    try:
        yield written
    except BaseException:
        for field_file in written:
            try:
                field_file.delete(save=False)
            except OSError:
                pass
        raise


def store_attachments(user, photos: list[CheckedPhoto], written: list) -> list[Attachment]:
    """Attachment rows (no case yet) for checked photos; case_report / case_act attach them."""
    result = []
    for photo in photos:
        attachment = Attachment(
            uploaded_by=user,
            original_name=(photo.file.name or "")[:200],
            content_type=photo.content_type,
            size=photo.file.size,
            sha256=photo.sha256,
        )
        attachment.file.save(f"upload{attachment.extension}", photo.file, save=False)
        written.append(attachment.file)
        attachment.save()
        result.append(attachment)
    return result
