# Production image: front-end assets built from npm in a Node stage, then a slim Python image.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./frontend
RUN mkdir -p gridgov/static && npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=gridgov.settings.production \
    GRIDGOV_VAR_DIR=/var/lib/gridgov
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gridgov ./gridgov
COPY grids ./grids
COPY staff ./staff
COPY cases ./cases
COPY assessment ./assessment
RUN pip install --no-cache-dir .
COPY . .
COPY --from=assets /app/gridgov/static/dist ./gridgov/static/dist
RUN SECRET_KEY=build DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput \
    && useradd --system --home /app gridgov && mkdir -p /var/lib/gridgov && chown gridgov /var/lib/gridgov
USER gridgov
EXPOSE 8000
CMD ["gunicorn", "gridgov.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
