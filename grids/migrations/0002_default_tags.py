from django.db import migrations

# (code, name, key_visit): the labels the seeds use for households and residents. `key_visit`
# marks the groups grid workers visit monthly (五必访: 困难、孤寡、残疾、上访、重点人员).
DEFAULT_TAGS = [
    ("dibao", "低保户", True),
    ("kunnan", "困难户", True),
    ("lao-dangyuan", "老党员", False),
    ("shangfang", "上访户", True),
    ("liudong", "流动人口", False),
    ("duju-laoren", "独居老人", True),
    ("canji", "残疾人", True),
    ("liushou-ertong", "留守儿童", True),
    ("tuiyi-junren", "退役军人", False),
    ("zhongdian-renyuan", "重点人员", True),
    ("chuzufang", "出租房", False),
    ("dangyuan", "党员", False),
]


def add_tags(apps, schema_editor):
    Tag = apps.get_model("grids", "Tag")
    for order, (code, name, key_visit) in enumerate(DEFAULT_TAGS):
        Tag.objects.update_or_create(code=code, defaults={"name": name, "key_visit": key_visit, "order": order})


def remove_tags(apps, schema_editor):
    apps.get_model("grids", "Tag").objects.filter(code__in=[t[0] for t in DEFAULT_TAGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("grids", "0001_initial")]
    operations = [migrations.RunPython(add_tags, remove_tags)]
