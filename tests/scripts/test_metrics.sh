#!/usr/bin/env bash
# GET /metrics end to end (tests/metrics.py), checked with the Prometheus
# text parser of Debian's python3-prometheus-client (scripts/deps.sh): the
# interpreter that has it, Debian's own when the first python3 found lacks
# it (a pyenv's, say).
py=python3
"$py" -c 'import prometheus_client' 2> /dev/null || py=/usr/bin/python3
exec "$py" "$(dirname "$0")/../metrics.py" "$1"
