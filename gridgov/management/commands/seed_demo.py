import time

from django.core.management.base import BaseCommand, CommandError

from gridgov.demo import DEMO_PASSWORD, SCALES, DemoBuilder, DemoRefused
from grids.models import Area


class Command(BaseCommand):
    help = "Build a believable demo place (Faker zh_CN): every tree level, households, residents, staff posts."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed builds the same place")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when areas already exist (make run)")

    def handle(self, *args, scale: str, seed: int, if_empty: bool, **options):
        if if_empty and Area.objects.exists():
            self.stdout.write("数据库已有区域数据，跳过演示数据生成。")
            return
        started = time.monotonic()
        self.stdout.write(f"生成演示数据：规模 {scale}，随机种子 {seed} …")
        builder = DemoBuilder(scale=scale, seed=seed, log=self.stdout.write)
        try:
            stats = builder.build()
        except DemoRefused as exc:
            raise CommandError(f"拒绝生成演示数据：{exc}") from None
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"完成，用时 {elapsed:.1f} 秒：{stats}"))
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, label, where in builder.logins:
            self.stdout.write(f"  {username:<12} {label:<6} {where}")
