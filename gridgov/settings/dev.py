"""Development: `make run`. Embedded defaults, debug on, demo users allowed."""

import os

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-change-me"
GRIDGOV_ALLOW_DEMO_USERS = True
