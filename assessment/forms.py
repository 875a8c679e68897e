from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cases.attachments import validate_upload

from .choices import AppealStatus


class AppealForm(forms.Form):
    reason = forms.CharField(
        label=_("申诉理由"),
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": _("说明为什么这条扣分不应计入，例如当天已上报但系统未记录")}
        ),
        max_length=2000,
    )
    evidence = forms.FileField(
        label=_("证明材料（可选）"),
        required=False,
        help_text=_("照片或 PDF，不超过 10 MB"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf"}),
    )

    def clean_evidence(self):
        f = self.cleaned_data.get("evidence")
        if f:
            try:
                validate_upload(f)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
        return f


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("审核结果"),
        choices=[(AppealStatus.ACCEPTED, _("采纳（撤销该条扣分）")), (AppealStatus.REJECTED, _("驳回"))],
        widget=forms.RadioSelect,
    )
    decision_note = forms.CharField(
        label=_("审核意见"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == AppealStatus.REJECTED and not (data.get("decision_note") or "").strip():
            self.add_error("decision_note", _("驳回申诉须填写理由"))
        return data
