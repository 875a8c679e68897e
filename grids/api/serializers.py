from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov import pii
from grids.models import Area, Household, Resident, Tag
from grids.paths import set_path


class AreaBriefSerializer(serializers.ModelSerializer):
    level_display = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Area
        fields = ["id", "code", "name", "level", "level_display"]


class AreaSerializer(AreaBriefSerializer):
    children_count = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = [*AreaBriefSerializer.Meta.fields, "parent", "depth", "is_active", "children_count"]

    @extend_schema_field(serializers.IntegerField)
    def get_children_count(self, obj: Area) -> int:
        # A leaf has rght = lft + 1; for others this counts descendants, so use the children
        # annotation when present (list views annotate it) and the cheap leaf test otherwise.
        annotated = getattr(obj, "children_count", None)
        if annotated is not None:
            return annotated
        return 0 if obj.is_leaf_node() else obj.get_children().count()


class AreaDetailSerializer(AreaSerializer):
    path = serializers.SerializerMethodField(help_text="Ancestors from the root down to this area (inclusive).")
    has_boundary = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = [*AreaSerializer.Meta.fields, "path", "has_boundary"]

    @extend_schema_field(AreaBriefSerializer(many=True))
    def get_path(self, obj: Area):
        return AreaBriefSerializer(obj.get_ancestors(include_self=True), many=True).data

    @extend_schema_field(serializers.BooleanField)
    def get_has_boundary(self, obj: Area) -> bool:
        return obj.boundary is not None


class MaskedField(serializers.CharField):
    """Accepts the full value (normalised and validated), returns it masked in every response."""

    normalize = validate = mask = staticmethod(lambda value: value)

    def to_internal_value(self, data):
        value = self.normalize(super().to_internal_value(data))
        if value:
            try:
                self.validate(value)
            except Exception as exc:  # django ValidationError → DRF error with its code
                raise serializers.ValidationError(exc.messages, code=getattr(exc, "code", "invalid")) from None
        return value

    def to_representation(self, value):
        return self.mask(value)


class MaskedIdNumberField(MaskedField):
    """An ID number in, `3301**********1234` out."""

    normalize = staticmethod(pii.normalize_id_number)
    validate = staticmethod(pii.validate_id_number)
    mask = staticmethod(pii.mask_id_number)


class MaskedPhoneField(MaskedField):
    normalize = staticmethod(pii.normalize_phone)
    validate = staticmethod(pii.validate_phone)
    mask = staticmethod(pii.mask_phone)


class ScopedAreaField(serializers.PrimaryKeyRelatedField):
    """An area the requesting user can see; others are reported as not existing."""

    default_error_messages = {"does_not_exist": _("区域不存在或不在您的管辖范围内")}

    def get_queryset(self):
        return Area.objects.visible_to(self.context["request"].user)


class ScopedHouseholdField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {"does_not_exist": _("户不存在或不在您的管辖范围内")}

    def get_queryset(self):
        return Household.objects.visible_to(self.context["request"].user)


class TaggedSaveMixin:
    """create/update through one atomic save: plain fields, then the model's save (a unique
    clash becomes a field error), then the tags; `after_save` for what follows the row."""

    duplicate_error: tuple[str, str, str] = ("", "", "")  # field, message, code

    def after_save(self, instance, validated: dict) -> None:
        pass

    @transaction.atomic
    def _save(self, instance, validated: dict):
        tags = validated.pop("tags", None)
        for key, value in validated.items():
            setattr(instance, key, value)
        self.before_save(instance)
        try:
            with transaction.atomic():
                instance.save()
        except IntegrityError:
            field, message, code = self.duplicate_error
            raise serializers.ValidationError({field: [message]}, code=code) from None
        if tags is not None:
            instance.tags.set(tags)
        self.after_save(instance, validated)
        return instance

    def before_save(self, instance) -> None:
        pass

    def create(self, validated_data):
        return self._save(self.Meta.model(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class HouseholdSerializer(TaggedSaveMixin, serializers.ModelSerializer):
    area = ScopedAreaField()
    area_name = serializers.CharField(source="area.name", read_only=True)
    tags = serializers.SlugRelatedField(slug_field="code", queryset=Tag.objects.all(), many=True, required=False)
    residents_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Household
        fields = [
            "id",
            "code",
            "area",
            "area_name",
            "address",
            "tags",
            "note",
            "is_active",
            "residents_count",
            "town",
            "zone",
            "village",
            "grid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["town", "zone", "village", "grid", "created_at", "updated_at"]

    def validate_area(self, area: Area) -> Area:
        probe = Household(area=area)
        try:
            probe.clean()
        except Exception as exc:
            raise serializers.ValidationError(exc.message_dict["area"], code="bad_area_level") from None
        return area

    duplicate_error = ("code", _("户编号已存在"), "duplicate")

    def before_save(self, instance: Household) -> None:
        set_path(instance)

    def after_save(self, instance: Household, validated: dict) -> None:
        if "area" in validated:
            for resident in instance.residents.all():  # residents follow their household
                resident.save()


class ResidentSerializer(TaggedSaveMixin, serializers.ModelSerializer):
    household = ScopedHouseholdField()
    id_number = MaskedIdNumberField(required=False, allow_blank=True, max_length=18)
    phone = MaskedPhoneField(required=False, allow_blank=True, max_length=20)
    tags = serializers.SlugRelatedField(slug_field="code", queryset=Tag.objects.all(), many=True, required=False)
    relation_display = serializers.CharField(source="get_relation_display", read_only=True)

    class Meta:
        model = Resident
        fields = [
            "id",
            "household",
            "name",
            "id_number",
            "gender",
            "birth_date",
            "phone",
            "relation",
            "relation_display",
            "tags",
            "is_active",
            "area",
            "town",
            "zone",
            "village",
            "grid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "gender",
            "birth_date",
            "area",
            "town",
            "zone",
            "village",
            "grid",
            "created_at",
            "updated_at",
        ]

    def validate_id_number(self, value: str) -> str:
        if value:
            clash = Resident.objects.filter(id_number=value)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(_("该身份证号已登记"), code="id_duplicate")
        return value

    duplicate_error = ("id_number", _("该身份证号已登记"), "id_duplicate")


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["code", "name", "key_visit"]
