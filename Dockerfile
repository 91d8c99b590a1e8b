# One image for every process of the stack; compose.yaml runs each Procfile line from it.
FROM python:3.11-slim

# WeasyPrint's libraries, as the Makefile's SYSTEM_PACKAGES (tests/test_stack.py compares).
ARG SYSTEM_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ${SYSTEM_PACKAGES} \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY . .
# Editable: the settings find templates, locale and static files beside the code.
RUN pip install -c constraints.txt -e . \
    && useradd --create-home --uid 1000 sellercover \
    && mkdir -p var/media staticfiles \
    && DEBUG=false ALLOWED_HOSTS=build \
       SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
       python manage.py collectstatic --noinput -v0 \
    && chown -R sellercover var

USER sellercover
ENV DEBUG=false PORT=8000 WEB_BIND=0.0.0.0
EXPOSE 8000
CMD ["honcho", "start", "--no-prefix", "web"]
