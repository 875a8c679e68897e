"""One form per action of the transition table. Forms only shape input for `case_act`; the table
and the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grids.models import Area
from staff.models import Department

from ..attachments import validate_upload
from ..choices import Action, LimitUnit, Rating
from ..models import Case


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to 9 photos, each checked by its magic bytes and size."""

    widget = MultipleFileInput(attrs={"accept": "image/*,application/pdf"})

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if self.required and not files:
            raise ValidationError(_("请上传照片"), code="required")
        if len(files) > 9:
            raise ValidationError(_("最多上传 9 个文件"), code="too_many")
        checked = []
        for f in files:
            try:
                content_type, sha = validate_upload(f)
            except ValidationError as exc:
                raise ValidationError(f"{f.name}：{exc.messages[0]}", code=exc.code) from None
            checked.append((f, content_type, sha))
        return checked


NOTE_LABELS = {
    Action.REJECT: _("不予立案理由"),
    Action.RETURN: _("退回理由"),
    Action.ESCALATE: _("上报理由"),
    Action.SUBMIT_FEEDBACK: _("处置结果"),
    Action.SELF_RESOLVE: _("处置结果"),
    Action.REWORK: _("不通过原因"),
    Action.REQUEST_EXTENSION: _("延期理由"),
    Action.REFUSE_EXTENSION: _("驳回理由"),
    Action.SUPERVISE: _("督办意见"),
    Action.REOPEN: _("重新办理原因"),
    Action.URGE: _("催办内容"),
}
NOTE_REQUIRED = {
    Action.REJECT,
    Action.RETURN,
    Action.ESCALATE,
    Action.SUBMIT_FEEDBACK,
    Action.SELF_RESOLVE,
    Action.REWORK,
    Action.REQUEST_EXTENSION,
    Action.REFUSE_EXTENSION,
    Action.SUPERVISE,
    Action.REOPEN,
}
PHOTOS = {Action.SUBMIT_FEEDBACK: False, Action.SELF_RESOLVE: True, Action.REWORK: False, Action.VERIFY: False}


class ActionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)

    def __init__(self, *args, action: str, case: Case, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.action, self.case, self.user = action, case, user
        self.action_label = Action(action).label
        self.fields["note"].label = NOTE_LABELS.get(action, _("说明"))
        self.fields["note"].required = action in NOTE_REQUIRED
        if action in PHOTOS:
            self.fields["photos"] = PhotosField(label=_("照片/证据"), required=PHOTOS[action])
        if action == Action.DISPATCH:
            self.fields["department"] = forms.ModelChoiceField(
                label=_("派遣到部门"), queryset=dispatch_departments(case), required=False
            )
            self.fields["area"] = forms.ModelChoiceField(
                label=_("或派遣到下级单位"), queryset=dispatch_areas(case), required=False
            )
            self.fields["due_at"] = forms.DateTimeField(
                label=_("办理期限"),
                required=False,
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                help_text=_("留空则按类别时限：%(amount)s %(unit)s")
                % {"amount": case.category.handle_amount.normalize(), "unit": case.category.get_handle_unit_display()},
            )
            suggested = suggested_department(case)
            if suggested:
                self.fields["department"].initial = suggested.pk
        if action == Action.REQUEST_EXTENSION:
            self.fields["amount"] = forms.DecimalField(label=_("延长"), min_value=0.5, max_value=365, decimal_places=2)
            self.fields["unit"] = forms.ChoiceField(
                label=_("单位"),
                choices=[(u, label) for u, label in LimitUnit.choices if u != LimitUnit.NATURAL_MINUTES],
                initial=LimitUnit.WORKING_DAYS,
            )
        if action == Action.RATE:
            self.fields["rating"] = forms.ChoiceField(
                label=_("满意度"), choices=Rating.choices, widget=forms.RadioSelect
            )
        if action == Action.MERGE:
            self.fields["into"] = forms.CharField(label=_("合并到事件编号"), max_length=16)

    def clean(self):
        data = super().clean()
        if self.action == Action.DISPATCH and not self.errors:
            if bool(data.get("department")) == bool(data.get("area")):
                raise ValidationError(_("请在部门和下级单位中选择其一"), code="bad_target")
        if self.action == Action.MERGE and data.get("into"):
            into = (
                Case.objects.visible_to(self.user)
                .filter(Q(number=data["into"].strip()) | Q(pk=_int(data["into"])))
                .exclude(pk=self.case.pk)
                .first()
            )
            if into is None:
                self.add_error("into", _("找不到该事件，或不在您的管辖范围内"))
            data["into_case"] = into
        return data

    def params(self) -> dict:
        """Keyword arguments for case_act (attachments are added by the view once stored)."""
        d = self.cleaned_data
        params = {"version": d["version"], "note": d.get("note", "")}
        if self.action == Action.DISPATCH:
            params["target"] = d.get("department") or d.get("area")
            if d.get("due_at"):
                params["due_at"] = d["due_at"]
        if self.action == Action.REQUEST_EXTENSION:
            params["amount"], params["unit"] = d["amount"], d["unit"]
        if self.action == Action.RATE:
            params["rating"] = d["rating"]
        if self.action == Action.MERGE:
            params["into"] = d["into_case"]
        return params


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def dispatch_departments(case: Case):
    """Departments that serve the place of the case (their area contains the case's area)."""
    area = case.area
    return (
        Department.objects.filter(
            is_active=True, area__tree_id=area.tree_id, area__lft__lte=area.lft, area__rght__gte=area.rght
        )
        .select_related("area")
        .order_by("-area__depth", "name")
    )


def dispatch_areas(case: Case):
    """Lower units of the owning level on the way down to the case (village, grid …)."""
    owner, area = case.owner_area, case.area
    if owner is None:
        return Area.objects.none()
    return Area.objects.filter(
        tree_id=area.tree_id, lft__gt=owner.lft, rght__lt=owner.rght, lft__lte=area.lft, rght__gte=area.rght
    ).order_by("depth")


def suggested_department(case: Case) -> Department | None:
    """The nearest department whose name contains the category's hint (e.g. 派出所)."""
    hint = case.category.default_department_name
    if not hint:
        return None
    return dispatch_departments(case).filter(name__contains=hint).first()


class BulkDispatchForm(forms.Form):
    department = forms.ModelChoiceField(label=_("派遣到部门"), queryset=Department.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.visible_to(user).filter(is_active=True).order_by("name")
