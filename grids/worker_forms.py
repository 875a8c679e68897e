"""Forms behind the grid worker's household pages (/m/households/): households, residents, visits,
1+X pairings and the reason asked before a full ID number is shown. Choices are limited to the
worker's own grids by the view; personal data never goes back to the browser unmasked."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.worker.forms import AreaChoiceField, WorkerFormMixin
from cases.worker.photos import PhotoField
from gridgov import pii

from .models import Household, Resident, Tag
from .visits import Pairing, Visit


class TagsField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj) -> str:
        return f"{obj.name}（五必访）" if obj.key_visit else obj.name


class HouseholdForm(WorkerFormMixin, forms.ModelForm):
    area = AreaChoiceField(
        label=gettext_lazy("所在网格/组"),
        queryset=None,
        empty_label=gettext_lazy("—— 请选择 ——"),
        error_messages={
            "required": gettext_lazy("请选择所在网格或组"),
            "invalid_choice": gettext_lazy("请选择您网格内的网格或组"),
        },
    )
    tags = TagsField(label=gettext_lazy("标签"), queryset=Tag.objects.all(), required=False)

    class Meta:
        model = Household
        fields = ["address", "area", "code", "tags", "note"]
        labels = {"code": gettext_lazy("户编号（可不填，自动生成）")}
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}
        error_messages = {"address": {"required": gettext_lazy("请填写地址")}}

    def __init__(self, *args, areas, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["code"].required = False
        if not self.instance.pk:
            grid_choices = list(areas[:2])
            if len(grid_choices) == 1:
                self.fields["area"].initial = grid_choices[0].pk

    def clean_code(self):
        code = (self.cleaned_data.get("code") or "").strip()
        if code and Household.objects.filter(code=code).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("户编号已存在"), code="unique")
        return code

    def validate_unique(self):
        # The code is checked in clean_code (without saying where the other household is) or
        # generated on save.
        pass

    def save(self, commit=True):
        household = super().save(commit=False)
        if not household.code:
            household.code = next_household_code(household.area)
        from .paths import set_path

        set_path(household)
        household.save()
        self.save_m2m()
        if "area" in self.changed_data and self.instance.pk:
            for resident in household.residents.all():
                resident.save()  # residents carry their household's path
        return household


def next_household_code(area) -> str:
    """The area's code plus a 4-digit sequence (the next free one)."""
    prefix = area.code
    taken = set(Household.objects.filter(code__startswith=prefix).values_list("code", flat=True))
    n = len(taken) + 1
    while f"{prefix}{n:04d}" in taken:
        n += 1
    return f"{prefix}{n:04d}"


class ResidentForm(WorkerFormMixin, forms.ModelForm):
    """The stored ID number and phone never travel to the browser: on edit the fields start empty
    with the masked value as a hint, and an empty submission keeps what is stored."""

    tags = TagsField(label=gettext_lazy("标签"), queryset=Tag.objects.all(), required=False)

    class Meta:
        model = Resident
        fields = ["name", "relation", "id_number", "phone", "tags", "is_active"]
        labels = {"is_active": gettext_lazy("在册（迁出或去世请取消勾选）")}
        error_messages = {"name": {"required": gettext_lazy("请填写姓名")}}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update({"autocomplete": "off", "inputmode": "text", "maxlength": 18})
        self.fields["phone"].widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})
        if not self.instance.pk:
            del self.fields["is_active"]  # a new resident is on the register
        if self.instance.pk:
            for name, masked in (
                ("id_number", self.instance.id_number_masked),
                ("phone", self.instance.phone_masked),
            ):
                self.initial[name] = ""
                self.fields[name].help_text = _("当前：%(value)s；留空表示不修改") % {"value": masked or "—"}

    def _stored(self, name: str) -> str:
        return type(self.instance).objects.filter(pk=self.instance.pk).values_list(name, flat=True).first() or ""

    def clean_id_number(self):
        value = pii.normalize_id_number(self.cleaned_data.get("id_number"))
        if not value:
            return self._stored("id_number") if self.instance.pk else ""
        pii.validate_id_number(value)
        # Unique across the county; the message does not say where the number is registered.
        if Resident.objects.filter(id_number=value).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("该身份证号已登记，不能重复登记"), code="unique")
        return value

    def clean_phone(self):
        value = pii.normalize_phone(self.cleaned_data.get("phone"))
        if not value:
            return self._stored("phone") if self.instance.pk else ""
        pii.validate_phone(value)
        return value

    def validate_unique(self):
        pass  # checked in clean_id_number


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("查看原因"),
        min_length=2,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": gettext_lazy("例如：为其代办低保年审，需核对身份证号")}),
        error_messages={
            "required": gettext_lazy("请填写查看原因"),
            "min_length": gettext_lazy("请具体说明查看原因（至少 2 个字）"),
        },
    )


class VisitForm(WorkerFormMixin, forms.ModelForm):
    photo = PhotoField(label=gettext_lazy("照片（可不拍）"), required=False)
    follow_up_case = forms.ModelChoiceField(
        label=gettext_lazy("关联后续事件（可不选）"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("—— 无 ——"),
        error_messages={"invalid_choice": gettext_lazy("事件不存在或不在您的网格内")},
    )

    class Meta:
        model = Visit
        fields = ["date", "discussed", "follow_up_case"]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "discussed": forms.Textarea(attrs={"rows": 3, "placeholder": gettext_lazy("了解到的情况、诉求、答复")}),
        }
        error_messages = {
            "date": {"required": gettext_lazy("请填写走访日期"), "invalid": gettext_lazy("日期格式不正确")},
            "discussed": {"required": gettext_lazy("请填写走访内容")},
        }

    def __init__(self, *args, cases, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["follow_up_case"].queryset = cases
        self.fields["follow_up_case"].label_from_instance = lambda c: f"{c.number} {c.title}"
        self.fields["date"].initial = timezone.localdate()

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("走访日期不能晚于今天"), code="future")
        return day


class PairingForm(WorkerFormMixin, forms.ModelForm):
    class Meta:
        model = Pairing
        fields = ["cadre_name", "cadre_title", "since"]
        widgets = {"since": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        error_messages = {
            "since": {"required": gettext_lazy("请填写结对日期"), "invalid": gettext_lazy("日期格式不正确")},
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cadre_name"].required = True
        self.fields["cadre_name"].error_messages["required"] = _("请填写结对干部或党员的姓名")
        self.fields["since"].initial = timezone.localdate()

    def clean_since(self):
        day = self.cleaned_data["since"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("结对日期不能晚于今天"), code="future")
        return day
