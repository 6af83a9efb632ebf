#!/usr/bin/env bash
# The offline checks of the deployment files (`make deploy-check` installs the tools and runs
# this): kubernetes-validate --strict on every manifest and on the kustomize renderings,
# checkov on deploy/ and on the Dockerfile, hadolint on the Dockerfile. Needs kubectl (for
# `kubectl kustomize`) and, on PATH, the tools of deploy/check-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kubectl >/dev/null || { echo "deploy-check: kubectl is needed (kubectl kustomize)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The renderings: the base, the base with the ServiceMonitor, and the base with the
# mounted-secret patch of deploy/examples (a patch is not a whole object on its own).
kubectl kustomize deploy/kubernetes > "$out/base.yaml"
kubectl kustomize deploy/kubernetes-monitoring > "$out/monitoring.yaml"
mkdir "$out/secret-file" && cp -r deploy "$out/secret-file/deploy"
cp deploy/examples/jwt-secret-file.patch.yaml "$out/secret-file/"
printf 'resources: [deploy/kubernetes]\npatches: [{path: jwt-secret-file.patch.yaml}]\n' \
  > "$out/secret-file/kustomization.yaml"
kubectl kustomize "$out/secret-file" > "$out/secret-file.yaml"

# Every object, on the oldest and the newest Kubernetes the tool knows of that has the
# PodDisruptionBudget's unhealthyPodEvictionPolicy (1.27+). The ServiceMonitor is a CRD of
# the Prometheus Operator: the tool has no schema for it and says so (a warning).
manifests=()
for file in deploy/kubernetes/*.yaml; do
  [[ "$file" == */kustomization.yaml ]] || manifests+=("$file")
done
manifests+=(deploy/kubernetes-monitoring/servicemonitor.yaml deploy/examples/secret.example.yaml \
  "$out"/*.yaml)
for version in 1.27.0 ""; do
  kubernetes-validate --strict --quiet ${version:+-k "$version"} "${manifests[@]}"
done

# The patch is scanned through its rendering above, not as an object of its own.
checkov --directory deploy --framework kubernetes kustomize --skip-download --compact --quiet \
  --skip-path deploy/examples/jwt-secret-file.patch.yaml
checkov --file "$out/secret-file.yaml" --framework kubernetes --skip-download --compact --quiet
checkov --file Dockerfile --framework dockerfile --skip-download --compact --quiet
hadolint Dockerfile
echo "deploy-check: all passed"
