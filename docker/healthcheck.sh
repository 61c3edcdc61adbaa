#!/bin/sh
# The container health check of a coordinator: cohortctl health (a
# grpc.health.v1 Check over mutual TLS) against the coordinator in the same
# container or pod. Exit 0 when it answers SERVING; 1 when it answers
# NOT_SERVING (the store is unreachable, for example), does not answer, or
# a file is missing (Docker reserves exit 2, cohortctl's usage error).
#
# The device port admits any client certificate its CA signed, so the probe
# needs one of its own (not the operator's): COHORT_HEALTH_CERT and
# COHORT_HEALTH_KEY. Every setting has a default:
#   COHORT_HEALTH_ADDRESS      127.0.0.1:50051 (the device port)
#   COHORT_HEALTH_CA           /etc/cohort/pki/ca.crt
#   COHORT_HEALTH_CERT         /etc/cohort/pki/probe.crt
#   COHORT_HEALTH_KEY          /etc/cohort/pki/probe.key
#   COHORT_HEALTH_SERVER_NAME  localhost (a name in the server certificate)
set -eu
cohortctl health \
  --admin_address="${COHORT_HEALTH_ADDRESS:-127.0.0.1:50051}" \
  --ca_cert="${COHORT_HEALTH_CA:-/etc/cohort/pki/ca.crt}" \
  --cert="${COHORT_HEALTH_CERT:-/etc/cohort/pki/probe.crt}" \
  --key="${COHORT_HEALTH_KEY:-/etc/cohort/pki/probe.key}" \
  --server_name="${COHORT_HEALTH_SERVER_NAME:-localhost}" || exit 1
