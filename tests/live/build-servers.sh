#!/bin/sh
# Builds etcd and kube-apiserver from the Go module proxy into DIR (once; later runs
# reuse them). k8s.io/kubernetes replaces its k8s.io/* staging modules with local paths,
# which `go install` refuses, so a scratch module pins each staging module to the
# release's published version instead and builds the command from there.
set -eu
dir=${1:?usage: build-servers.sh DIR}
kubernetes=v1.32.4 staging=v0.32.4 etcd=v3.5.16
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
go mod init vmesh.dev/live-servers >/dev/null 2>&1
modfile=$(go mod download -json "k8s.io/kubernetes@$kubernetes" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
for module in $(awk '$2 == "=>" && $3 ~ /^\.\/staging/ {print $1}' "$modfile"); do
  go mod edit -replace="$module=$module@$staging"
done
go get "k8s.io/kubernetes/cmd/kube-apiserver@$kubernetes" "go.etcd.io/etcd/server/v3@$etcd"
go build -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
go build -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
mv "$dir/etcd.tmp" "$dir/etcd"
