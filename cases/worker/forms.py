"""Forms of the grid worker's phone pages (reports, patrols, checks). Every choice a worker can make
is limited to their own grids; rules about cases stay in services and transitions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grids.choices import GRID_LEVELS

from ..models import Category
from .photos import PhotosField
from .selectors import grid_areas, my_households

COORD_PLACES = Decimal("0.000001")


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        if obj.level in GRID_LEVELS and obj.level != "sub_grid":
            return obj.name
        return f"　└ {obj.name}（{obj.get_level_display()}）"


class HouseholdChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.address}（{obj.code}）"


class CategorySelect(forms.Select):
    """小类 grouped under their 大类, each option carrying its kind (问题类/信息类) for the page."""

    def __init__(self, *args, kinds: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kind = self.kinds.get(str(value))
        if kind:
            option["attrs"]["data-kind"] = kind
        return option


def leaf_categories():
    return (
        Category.objects.filter(is_active=True, parent__isnull=False, parent__is_active=True)
        .select_related("parent")
        .order_by("parent__order", "parent__code", "order", "code")
    )


def grouped_category_choices(categories) -> tuple[list, dict[str, str]]:
    groups: dict[int, tuple[str, list]] = {}
    kinds = {}
    for c in categories:
        label = c.name if c.kind == "problem" else _("%(name)s（信息类）") % {"name": c.name}
        groups.setdefault(c.parent_id, (c.parent.name, []))[1].append((c.code, label))
        kinds[c.code] = c.kind
    return [("", _("—— 请选择事项类别 ——")), *groups.values()], kinds


class CoordinateField(forms.DecimalField):
    """A coordinate from navigator.geolocation: any precision in, six decimals (≈0.1 m) stored."""

    def __init__(self, *, limit: int, **kwargs) -> None:
        super().__init__(
            required=False,
            min_value=-limit,
            max_value=limit,
            error_messages={
                "invalid": gettext_lazy("坐标格式不正确"),
                "min_value": gettext_lazy("坐标超出范围"),
                "max_value": gettext_lazy("坐标超出范围"),
            },
            **kwargs,
        )
        self.widget = forms.HiddenInput()

    def clean(self, value):
        value = super().clean(value)
        return value.quantize(COORD_PLACES, rounding=ROUND_HALF_UP) if value is not None else None


class WorkerFormMixin:
    """Adds `has-error` hooks used by the templates and the JSON error format."""

    def errors_json(self) -> dict:
        return {
            "errors": {name: [str(m) for m in msgs] for name, msgs in self.errors.items() if name != "__all__"},
            "non_field_errors": [str(m) for m in self.non_field_errors()],
        }


class ReportForm(WorkerFormMixin, forms.Form):
    """申报单 from the phone: a category, a sentence, photos; the place is the worker's grid (or a
    group in it, or a household which implies its group)."""

    category = forms.ModelChoiceField(
        label=gettext_lazy("事项类别"),
        queryset=Category.objects.none(),
        to_field_name="code",
        error_messages={
            "required": gettext_lazy("请选择事项类别"),
            "invalid_choice": gettext_lazy("请选择有效的事项类别（小类）"),
        },
    )
    description = forms.CharField(
        label=gettext_lazy("情况描述"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": gettext_lazy("一句话说明看到了什么、在哪里")}),
        error_messages={"required": gettext_lazy("请填写情况描述")},
    )
    area = AreaChoiceField(
        label=gettext_lazy("网格/组"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("—— 请选择网格或组 ——"),
        error_messages={"invalid_choice": gettext_lazy("请选择您所在网格内的网格或组")},
    )
    household = HouseholdChoiceField(
        label=gettext_lazy("涉及的户（可不选）"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("—— 不涉及具体某户 ——"),
        error_messages={"invalid_choice": gettext_lazy("该户不在您的网格内")},
    )
    latitude = CoordinateField(limit=90)
    longitude = CoordinateField(limit=180)
    urgent = forms.BooleanField(label=gettext_lazy("紧急"), required=False)
    photos = PhotosField(label=gettext_lazy("现场照片（最多 9 张）"), required=False)

    def __init__(self, *args, user, grids, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        categories = list(leaf_categories())
        self.categories = categories
        field = self.fields["category"]
        field.queryset = leaf_categories()
        choices, kinds = grouped_category_choices(categories)
        field.widget = CategorySelect(kinds=kinds, choices=choices)
        self.fields["area"].queryset = grid_areas(user, grids)
        self.fields["household"].queryset = (
            my_households(user, grids).filter(is_active=True).select_related("area").order_by("code")
        )

    def clean(self):
        cleaned = super().clean()
        area = cleaned.get("area")
        household = cleaned.get("household")
        if "area" in self.errors or "household" in self.errors:
            return cleaned
        if household is not None:
            home = household.area
            if area is None or area.pk == home.pk or home.is_descendant_of(area):
                # The household names the place more precisely than the grid.
                cleaned["area"] = area = home
            elif not area.is_descendant_of(home):
                self.add_error("household", _("该户不在所选网格或组内"))
                return cleaned
        if area is None:
            located = cleaned.get("latitude") is not None and cleaned.get("longitude") is not None
            if located:
                # Where boundaries exist, the position names the grid (or group) it falls in.
                from grids.locate import locate

                hit = locate(lat=float(cleaned["latitude"]), lon=float(cleaned["longitude"]), user=self.user)
                if hit is not None and self.fields["area"].queryset.filter(pk=hit.area.pk).exists():
                    cleaned["area"] = hit.area
                else:
                    self.add_error("area", _("定位无法确定网格，请选择网格或组"))
            else:
                self.add_error("area", _("请选择网格或组"))
        return cleaned


class PatrolStartForm(forms.Form):
    grid = forms.ModelChoiceField(
        label=gettext_lazy("巡查网格"),
        queryset=None,
        error_messages={
            "required": gettext_lazy("请选择巡查的网格"),
            "invalid_choice": gettext_lazy("请选择您自己的网格"),
        },
    )

    def __init__(self, *args, grids, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from grids.models import Area

        self.fields["grid"].queryset = Area.objects.filter(pk__in=[g.pk for g in grids])
        if len(grids) == 1:
            self.fields["grid"].initial = grids[0].pk
            self.fields["grid"].widget = forms.HiddenInput()


class PatrolEndForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("巡查情况（可不填）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": gettext_lazy("例如：巡查了主要道路和河道")}),
    )


class _ActionForm(WorkerFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput(), required=False)


class VerifyForm(_ActionForm):
    note = forms.CharField(
        label=gettext_lazy("核查意见（可不填）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": gettext_lazy("例如：现场已清理干净")}),
    )
    photos = PhotosField(label=gettext_lazy("现场照片（可不拍）"), required=False)


class ReworkForm(_ActionForm):
    note = forms.CharField(
        label=gettext_lazy("不通过的原因"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("请填写不通过的原因")},
    )
    photos = PhotosField(label=gettext_lazy("现场照片"), required=False)


class SelfResolveForm(_ActionForm):
    note = forms.CharField(
        label=gettext_lazy("处置结果"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": gettext_lazy("例如：已劝导当事人清理完毕")}),
        error_messages={"required": gettext_lazy("请填写处置结果")},
    )
    photos = PhotosField(
        label=gettext_lazy("处置后照片"),
        required=True,
        error_messages={"required": gettext_lazy("请上传处置后的照片")},
    )


ACTION_FORMS = {
    "verify": VerifyForm,
    "rework": ReworkForm,
    "self_resolve": SelfResolveForm,
}
