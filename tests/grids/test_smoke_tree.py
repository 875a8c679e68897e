from grids.models import Area


def test_tree_fixture_builds_a_valid_tree(tree):
    before = list(Area.objects.order_by("pk").values_list("pk", "tree_id", "lft", "rght", "depth"))
    Area.objects.rebuild()
    after = list(Area.objects.order_by("pk").values_list("pk", "tree_id", "lft", "rght", "depth"))
    assert before == after
    assert tree.households["group_a"].town_id == tree["town_a"].pk
    assert tree.households["group_a"].grid_id == tree["grid_a"].pk
    assert tree.residents["grid_b"].town_id == tree["town_b"].pk
