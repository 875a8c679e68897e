"""The default catalogue, from the categories of seed 002 (art. 7/19) and DOMAIN.md. Codes are
2-digit 大类 + 2-digit 小类; limits follow the practice in the seeds (accept ≤ 1 working hour,
urgent in natural time, field check ≤ 2 working hours, ordinary 7 working days, complex 15)."""

from django.db import migrations

WH, WD, NH = "working_hours", "working_days", "natural_hours"

# (大类 code, 大类 name, [(小类 code, name, kind, level, handle amount, handle unit, urgent, department hint)])
CATALOGUE = [
    ("01", "组织纪检", [("0101", "党员干部作风问题", "problem", "town", 7, WD, False, "")]),
    ("02", "综治信访维稳", [
        ("0201", "信访诉求", "problem", "town", 15, WD, False, "信访"),
        ("0202", "治安隐患", "problem", "town", 2, WD, False, "派出所"),
        ("0203", "重点人员动态", "information", "town", 0, WD, False, ""),
    ]),
    ("03", "安全生产", [
        ("0301", "生产经营安全隐患", "problem", "town", 2, WD, False, "应急管理"),
        ("0302", "燃气及危化品险情", "problem", "town", 2, NH, True, "应急管理"),
        ("0303", "道路交通安全隐患", "problem", "town", 3, WD, False, "交通"),
    ]),
    ("04", "计划生育", [("0401", "计生服务诉求", "problem", "village", 7, WD, False, "卫生")]),
    ("05", "流动人口", [
        ("0501", "流动人口信息变动", "information", "village", 0, WD, False, ""),
        ("0502", "流动人口服务诉求", "problem", "village", 7, WD, False, ""),
    ]),
    ("06", "出租房消防安全", [
        ("0601", "出租房消防隐患", "problem", "town", 1, WD, False, "综合行政执法"),
        ("0602", "电动车违规停放充电", "problem", "village", 1, WD, False, ""),
    ]),
    ("07", "食药品安全", [("0701", "无证经营及过期食品", "problem", "town", 3, WD, False, "市场监管")]),
    ("08", "劳动保障", [
        ("0801", "拖欠工资", "problem", "town", 7, WD, False, "人力资源"),
        ("0802", "社保就业咨询", "information", "village", 0, WD, False, ""),
    ]),
    ("09", "创建", [("0901", "文明创建问题", "problem", "village", 7, WD, False, "")]),
    ("10", "综合执法", [
        ("1001", "占道经营", "problem", "town", 2, WD, False, "综合行政执法"),
        ("1002", "违规广告牌", "problem", "town", 5, WD, False, "综合行政执法"),
    ]),
    ("11", "违法建筑/违法占地", [
        ("1101", "违法建设", "problem", "town", 15, WD, False, "综合行政执法"),
        ("1102", "违法占地", "problem", "town", 15, WD, False, "自然资源"),
    ]),
    ("12", "便民服务", [
        ("1201", "代办服务", "problem", "village", 3, WD, False, ""),
        ("1202", "水电气故障", "problem", "town", 24, NH, False, ""),
        ("1203", "道路及公共设施损坏", "problem", "town", 7, WD, False, "住房和城乡建设"),
    ]),
    ("13", "矛盾纠纷", [
        ("1301", "邻里纠纷", "problem", "grid", 3, WD, False, "调解"),
        ("1302", "婚姻家庭纠纷", "problem", "village", 7, WD, False, "调解"),
        ("1303", "土地山林纠纷", "problem", "town", 15, WD, False, "司法所"),
    ]),
    ("14", "环境卫生", [
        ("1401", "垃圾乱堆乱放", "problem", "grid", 1, WD, False, ""),
        ("1402", "污水乱排", "problem", "town", 3, WD, False, "生态环境"),
        ("1403", "河道保洁", "problem", "village", 2, WD, False, "水利"),
    ]),
]


def add(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    for order, (code, name, children) in enumerate(CATALOGUE):
        parent, _ = Category.objects.update_or_create(code=code, defaults={"name": name, "order": order})
        for sub_order, (sub, sub_name, kind, level, amount, unit, urgent, hint) in enumerate(children):
            Category.objects.update_or_create(
                code=sub,
                defaults={
                    "name": sub_name,
                    "parent": parent,
                    "kind": kind,
                    "default_level": level,
                    "default_department_name": hint,
                    "urgent": urgent,
                    # Urgent: register within 10 natural minutes; others within 1 working hour.
                    "accept_amount": 10 if urgent else 1,
                    "accept_unit": "natural_minutes" if urgent else WH,
                    "handle_amount": amount or 1,
                    "handle_unit": unit,
                    "verify_amount": 2,
                    "verify_unit": NH if urgent else WH,
                    "order": sub_order,
                },
            )


def remove(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    codes = [sub[0] for _, _, children in CATALOGUE for sub in children]
    Category.objects.filter(code__in=codes).delete()
    Category.objects.filter(code__in=[c for c, _, _ in CATALOGUE]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_case_engine")]
    operations = [migrations.RunPython(add, remove)]
