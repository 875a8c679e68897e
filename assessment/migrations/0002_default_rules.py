"""The default rule set (千分制, 1,000 base points, 1 yuan a point), in force from 2020-01 until an
admin adds a newer version. docs/assessment.md explains every measure and this table."""

import datetime
from decimal import Decimal

from django.db import migrations

VALID_FROM = datetime.date(2020, 1, 1)

# (code, name, subject kind, measure, points per occurrence, monthly cap or None)
DEFAULT_RULES = [
    # 网格员 grid workers
    ("gw_day_short", "网格日报不足", "grid_worker", "grid_day_short", "-5", "150"),
    ("gw_late_verify", "核查超时", "grid_worker", "late_verification", "-10", None),
    ("gw_rework", "返工（本人处置）", "grid_worker", "rework", "-10", None),
    ("gw_unsatisfied", "回访不满意（本人处置）", "grid_worker", "unsatisfied", "-20", None),
    ("gw_missed_visit", "重点户未走访", "grid_worker", "missed_visit", "-10", "100"),
    ("gw_valid_report", "有效上报", "grid_worker", "valid_report", "2", "100"),
    ("gw_solved", "网格内解决", "grid_worker", "solved_in_grid", "5", "100"),
    # 网格长 grid chiefs
    ("gc_day_short", "网格日报不足", "grid_chief", "grid_day_short", "-2", "60"),
    ("gc_overdue", "本级办理超时", "grid_chief", "overdue_held", "-10", None),
    ("gc_rework", "返工（本人处置）", "grid_chief", "rework", "-10", None),
    ("gc_unsatisfied", "回访不满意（本人处置）", "grid_chief", "unsatisfied", "-20", None),
    ("gc_solved", "网格内解决（本人处置）", "grid_chief", "solved_in_grid", "5", "100"),
    # 片长 zone chiefs
    ("zc_day_short", "片区网格日报不足", "zone_chief", "grid_day_short", "-1", "100"),
    ("zc_overdue", "本级办理超时", "zone_chief", "overdue_held", "-10", None),
    ("zc_rework", "返工（本人处置）", "zone_chief", "rework", "-10", None),
    ("zc_unsatisfied", "回访不满意（本人处置）", "zone_chief", "unsatisfied", "-20", None),
    ("zc_missed_visit", "片区重点户未走访", "zone_chief", "missed_visit", "-1", "50"),
    # 部门工作人员 department staff
    ("ds_overdue", "部门办理超时", "department_staff", "overdue_held", "-10", None),
    ("ds_rework", "返工（本人处置）", "department_staff", "rework", "-10", None),
    ("ds_unsatisfied", "回访不满意（本人处置）", "department_staff", "unsatisfied", "-20", None),
    # 网格（单位）
    ("ug_day_short", "网格日报不足", "grid", "grid_day_short", "-5", "150"),
    ("ug_late_verify", "核查超时", "grid", "late_verification", "-10", None),
    ("ug_overdue", "网格承办超时", "grid", "overdue_held", "-10", None),
    ("ug_rework", "网格承办返工", "grid", "rework", "-10", None),
    ("ug_unsatisfied", "网格承办回访不满意", "grid", "unsatisfied", "-20", None),
    ("ug_missed_visit", "重点户未走访", "grid", "missed_visit", "-10", "100"),
    ("ug_valid_report", "有效上报", "grid", "valid_report", "2", "100"),
    ("ug_solved", "网格内解决", "grid", "solved_in_grid", "5", "100"),
    # 片区（单位）
    ("uz_day_short", "网格日报不足", "zone", "grid_day_short", "-1", "150"),
    ("uz_late_verify", "核查超时", "zone", "late_verification", "-2", "150"),
    ("uz_overdue", "片区内承办超时", "zone", "overdue_held", "-5", "200"),
    ("uz_rework", "片区内承办返工", "zone", "rework", "-2", "100"),
    ("uz_unsatisfied", "片区内承办回访不满意", "zone", "unsatisfied", "-5", "150"),
    ("uz_missed_visit", "重点户未走访", "zone", "missed_visit", "-1", "100"),
    ("uz_valid_report", "有效上报", "zone", "valid_report", "0.5", "100"),
    ("uz_solved", "网格内解决", "zone", "solved_in_grid", "1", "100"),
    # 镇街（单位）
    ("ut_day_short", "网格日报不足", "town", "grid_day_short", "-0.5", "150"),
    ("ut_late_verify", "核查超时", "town", "late_verification", "-1", "150"),
    ("ut_overdue", "镇内承办超时", "town", "overdue_held", "-2", "200"),
    ("ut_rework", "镇内承办返工", "town", "rework", "-1", "100"),
    ("ut_unsatisfied", "镇内承办回访不满意", "town", "unsatisfied", "-2", "150"),
    ("ut_missed_visit", "重点户未走访", "town", "missed_visit", "-0.5", "100"),
    ("ut_valid_report", "有效上报", "town", "valid_report", "0.1", "100"),
    ("ut_solved", "网格内解决", "town", "solved_in_grid", "0.5", "100"),
    # 部门（单位）
    ("ud_overdue", "部门承办超时", "department", "overdue_held", "-5", "300"),
    ("ud_rework", "部门承办返工", "department", "rework", "-5", "200"),
    ("ud_unsatisfied", "部门承办回访不满意", "department", "unsatisfied", "-10", "200"),
]


def add(apps, schema_editor):
    RuleSet = apps.get_model("assessment", "RuleSet")
    Rule = apps.get_model("assessment", "Rule")
    rule_set, _ = RuleSet.objects.get_or_create(
        valid_from=VALID_FROM,
        defaults={
            "name": "默认规则（千分制）",
            "base_score": Decimal("1000"),
            "yuan_per_point": Decimal("1"),
            "note": "系统内置的默认规则：基础分 1000 分，每分 1 元。修改规则请新建版本并指定起始月份。",
        },
    )
    for order, (code, name, kind, measure, points, cap) in enumerate(DEFAULT_RULES):
        Rule.objects.update_or_create(
            rule_set=rule_set,
            code=code,
            defaults={
                "name": name,
                "subject_kind": kind,
                "measure": measure,
                "points": Decimal(points),
                "cap": Decimal(cap) if cap else None,
                "active": True,
                "order": order,
            },
        )


def remove(apps, schema_editor):
    RuleSet = apps.get_model("assessment", "RuleSet")
    RuleSet.objects.filter(valid_from=VALID_FROM, months__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("assessment", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
