#!/usr/bin/env bash
# Publish layer zips as new Lambda layer versions and print each version's ARN.
#
# Usage: scripts/publish.sh dist/NAME-amd64.zip [dist/NAME-arm64.zip ...]
# (`make publish` builds the zips and runs this.)
#
# Each zip dist/<extension>-<goarch>.zip becomes a version of the layer
# <LAYER_NAME>-<architecture> (the name template.yaml gives it), compatible with
# that one architecture (amd64 -> x86_64, arm64 -> arm64) and any runtime.
#
# Settings (environment):
#   LAYER_NAME         layer name prefix (default: the zip's extension name)
#   VERSION            recorded in the description (default: `git describe
#                      --always --dirty`, or "unversioned" outside a git repository)
#   DESCRIPTION        text before the architecture and version in the
#                      description (default: the project's description)
#   LICENSE_INFO       the layer's license (default: {{ cookiecutter.license }}); empty leaves it out
#   AWS_PROFILE, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL: read by the aws CLI
#   AWS_REGION         passed as --region (it wins over AWS_DEFAULT_REGION, as
#                      in the AWS SDKs; the aws CLI v1 ignores it on its own)
set -euo pipefail

die() {
	echo "publish: $*" >&2
	exit 1
}

[ "$#" -gt 0 ] || die "usage: $0 dist/NAME-<goarch>.zip..."
command -v aws >/dev/null 2>&1 || die "the aws CLI is not installed (https://aws.amazon.com/cli/)"

# The project's answers (single-quoted: no shell expansion).
default_description='{{ cookiecutter.description | replace("'", "'\\''") }}'
default_license='{{ cookiecutter.license }}'
DESCRIPTION="${DESCRIPTION:-$default_description}"
LICENSE_INFO="${LICENSE_INFO-$default_license}"

if [ -z "${VERSION:-}" ]; then
	VERSION="$(git describe --always --dirty 2>/dev/null || true)"
	VERSION="${VERSION:-unversioned}"
fi

region_args=()
if [ -n "${AWS_REGION:-}" ]; then
	region_args=(--region "$AWS_REGION")
fi
license_args=()
if [ -n "${LICENSE_INFO:-}" ]; then
	license_args=(--license-info "$LICENSE_INFO")
fi

for zip in "$@"; do
	[ -f "$zip" ] || die "$zip: no such file (run 'make layer' first)"
	base="$(basename "$zip" .zip)"
	goarch="${base##*-}"
	extension="${base%-*}"
	case "$goarch" in
	amd64) arch=x86_64 ;;
	arm64) arch=arm64 ;;
	*) die "$zip: cannot tell the architecture (want <name>-amd64.zip or <name>-arm64.zip)" ;;
	esac
	layer="${LAYER_NAME:-$extension}-$arch"
	description="$DESCRIPTION ($arch) version $VERSION"
	# Lambda allows at most 256 characters; keep the end, which carries the version.
	if [ "$(printf '%s' "$description" | wc -m)" -gt 256 ]; then
		description="...${description: -253}"
	fi

	echo "publish: $zip -> layer $layer ($description)${AWS_ENDPOINT_URL:+ at $AWS_ENDPOINT_URL}" >&2
	arn="$(aws lambda publish-layer-version \
		${region_args[@]+"${region_args[@]}"} \
		--layer-name "$layer" \
		--description "$description" \
		${license_args[@]+"${license_args[@]}"} \
		--compatible-architectures "$arch" \
		--zip-file "fileb://$zip" \
		--query LayerVersionArn \
		--output text)" || die "$zip: aws lambda publish-layer-version failed"
	echo "$arn"
done
