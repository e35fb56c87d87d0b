#!/usr/bin/env bash
# Publish layer zips as Lambda layer versions in one or more regions, share each
# version, check what was published, and list the ARNs in dist/layers.json and
# dist/layers.md.
#
# Usage: scripts/publish.sh dist/NAME-amd64.zip [dist/NAME-arm64.zip ...]
# (`make publish` builds the zips and runs this.)
#
# Each zip dist/<extension>-<goarch>.zip becomes a version of the layer
# <LAYER_NAME>-<architecture> (the name template.yaml gives it), compatible with
# that one architecture (amd64 -> x86_64, arm64 -> arm64) and any runtime, in
# every region of REGIONS.
#
# A zip whose exact content (sha256) was already published under the same
# description (same VERSION) in a region is not published again there: its
# existing version is checked, shared and listed. So a rerun after a failure
# publishes only what is missing, and sharing is never granted twice.
#
# Settings (environment):
#   REGIONS            space-separated region names (default: AWS_REGION, else
#                      AWS_DEFAULT_REGION, else the profile's region)
#   LAYER_PRINCIPAL    who may use the new versions: empty (only this account),
#                      "public" (every AWS account), or 12-digit account ids
#                      and/or organisation ids (o-...), separated by spaces
#   LAYER_NAME         layer name prefix (default: the zip's extension name)
#   VERSION            recorded in the description (default: `git describe
#                      --tags --always --dirty`, or "unversioned" outside git)
#   DESCRIPTION        text before the version and architecture in the
#                      description (default: the project's description)
#   LICENSE_INFO       the layer's license (default: {{ cookiecutter.license }}); empty leaves it out
#   OUT_DIR            where layers.json and layers.md go (default: dist)
#   AWS_PROFILE, AWS_ENDPOINT_URL, credentials: read by the aws CLI
#
# Exit status: 0 when every zip is published, shared and checked in every
# region; 1 on bad settings (before anything is published) or when a region
# fails (the last line names it; what was done is listed, a rerun does the rest).
set -euo pipefail

count() { echo "$#"; }

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
OUT_DIR="${OUT_DIR:-dist}"

if [ -z "${VERSION:-}" ]; then
	VERSION="$(git describe --tags --always --dirty 2>/dev/null || true)"
	VERSION="${VERSION:-unversioned}"
fi

# ---- Check every setting before anything is published ------------------------

region_re='^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$'
account_re='^[0-9]{12}$'
org_re='^o-[a-z0-9]{10,32}$'

[[ "$VERSION" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
	die "VERSION='$VERSION' is not a version (letters, digits, '.', '_', '+', '-')"
if [ -n "${LAYER_NAME:-}" ]; then
	[[ "$LAYER_NAME" =~ ^[A-Za-z0-9_-]{1,56}$ ]] ||
		die "LAYER_NAME='$LAYER_NAME' is not a layer name (letters, digits, '-', '_'; at most 56)"
fi

regions=()
if [ -z "${REGIONS:-}" ]; then
	default_region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
	if [ -z "$default_region" ]; then
		default_region="$(aws configure get region 2>/dev/null || true)"
	fi
	[ -n "$default_region" ] ||
		die "no region: set REGIONS (e.g. REGIONS=\"us-east-1 eu-west-1\"), AWS_REGION or a region in your AWS profile"
	REGIONS="$default_region"
fi
read -r -a region_words <<<"$REGIONS"
for region in ${region_words[@]+"${region_words[@]}"}; do
	[[ "$region" =~ $region_re ]] || die "REGIONS: '$region' is not a region name (like us-east-1 or eu-west-1)"
	case " ${regions[*]-} " in
	*" $region "*) ;; # listed twice: once is enough
	*) regions+=("$region") ;;
	esac
done
[ -n "${regions[*]-}" ] || die "REGIONS is empty"

# grants: "principal|organization id|statement id" per grant.
grants=()
read -r -a principal_words <<<"${LAYER_PRINCIPAL:-}"
for word in ${principal_words[@]+"${principal_words[@]}"}; do
	if [ "$word" = public ]; then
		[ "$(count "${principal_words[@]}")" = 1 ] || die "LAYER_PRINCIPAL: 'public' shares with everyone; give it alone"
		grants+=("*||public")
	elif [[ "$word" =~ $account_re ]]; then
		grants+=("$word||account-$word")
	elif [[ "$word" == o-* ]]; then
		[[ "$word" =~ $org_re ]] ||
			die "LAYER_PRINCIPAL: '$word' is not an organisation id (o- and 10 to 32 lower-case letters or digits)"
		grants+=("*|$word|organization-$word")
	else
		die "LAYER_PRINCIPAL: '$word' is not an account id (12 digits), an organisation id (o-...) or 'public'"
	fi
done

zips=()
for zip in "$@"; do
	[ -f "$zip" ] || die "$zip: no such file (run 'make layer' first)"
	base="$(basename "$zip" .zip)"
	case "${base##*-}" in
	amd64 | arm64) ;;
	*) die "$zip: cannot tell the architecture (want <name>-amd64.zip or <name>-arm64.zip)" ;;
	esac
	zips+=("$zip")
done

license_args=()
if [ -n "${LICENSE_INFO:-}" ]; then
	license_args=(--license-info "$LICENSE_INFO")
fi

# ---- Helpers -------------------------------------------------------------------

# The zip's sha256 as hex (for people) and as base64 (Lambda's CodeSha256).
sha256_hex() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}
hex_to_base64() {
	# shellcheck disable=SC2059 # the format is the bytes, as \x escapes
	printf "$(printf '%s' "$1" | sed 's/../\\x&/g')" | base64
}

json_string() {
	local s="$1"
	s="${s//\\/\\\\}"
	s="${s//\"/\\\"}"
	printf '"%s"' "$s"
}

# Lambda allows at most 256 characters; keep the end, which carries the version.
description_for() {
	local description="$DESCRIPTION Version $VERSION, $1."
	if [ "$(printf '%s' "$description" | wc -m)" -gt 256 ]; then
		description="...${description: -253}"
	fi
	printf '%s' "$description"
}

# rows: "region|architecture|layer|arn|version|sha256|zip" for everything published
# (or found already published) so far.
rows=()

write_outputs() {
	mkdir -p "$OUT_DIR"
	local json="$OUT_DIR/layers.json" md="$OUT_DIR/layers.md" row first=1
	local region arch layer arn number sha zip shared
	if [ -z "${grants[*]-}" ]; then
		shared="this account only"
	elif [ "${grants[0]}" = "*||public" ]; then
		shared="every AWS account (public)"
	else
		shared="$LAYER_PRINCIPAL"
	fi
	{
		printf '{\n  "version": %s,\n  "shared_with": %s,\n  "layers": [' \
			"$(json_string "$VERSION")" "$(json_string "$shared")"
		for row in ${rows[@]+"${rows[@]}"}; do
			IFS='|' read -r region arch layer arn number sha zip <<<"$row"
			[ "$first" = 1 ] || printf ','
			first=0
			printf '\n    {"region": "%s", "architecture": "%s", "layer": "%s", "arn": "%s", "version": %s, "sha256": "%s", "zip": %s}' \
				"$region" "$arch" "$layer" "$arn" "$number" "$sha" "$(json_string "$zip")"
		done
		printf '\n  ]\n}\n'
	} >"$json.tmp"
	mv "$json.tmp" "$json"
	{
		printf '# Layer versions for %s\n\n' "$VERSION"
		printf 'Shared with: %s.\n\n' "$shared"
		printf '| region | architecture | layer version ARN | version | sha256 of the zip |\n'
		printf '|---|---|---|---|---|\n'
		for row in ${rows[@]+"${rows[@]}"}; do
			IFS='|' read -r region arch layer arn number sha zip <<<"$row"
			# shellcheck disable=SC2016 # the backticks are Markdown
			printf '| %s | %s | `%s` | %s | `%s` |\n' "$region" "$arch" "$arn" "$number" "$sha"
		done
	} >"$md.tmp"
	mv "$md.tmp" "$md"
}

region_failed() {
	write_outputs
	echo "publish: FAILED in region $1: $2 (published so far: $OUT_DIR/layers.md; run make publish again to finish)" >&2
	exit 1
}

# ---- Publish, share, check ------------------------------------------------------

for region in "${regions[@]}"; do
	for zip in "${zips[@]}"; do
		base="$(basename "$zip" .zip)"
		goarch="${base##*-}"
		case "$goarch" in
		amd64) arch=x86_64 ;;
		arm64) arch=arm64 ;;
		esac
		layer="${LAYER_NAME:-${base%-*}}-$arch"
		description="$(description_for "$arch")"
		sha="$(sha256_hex "$zip")"
		code_sha="$(hex_to_base64 "$sha")"
		awsr=(aws --region "$region" --output text)

		# Already published with this content and description? Then use that version.
		number=""
		quoted="${description//\'/\\\'}" # a JMESPath raw string: \' for '
		found="$("${awsr[@]}" lambda list-layer-versions --layer-name "$layer" \
			--query "max_by(LayerVersions[?Description=='$quoted'], &Version).Version")" ||
			region_failed "$region" "aws lambda list-layer-versions --layer-name $layer failed"
		if [ -n "$found" ] && [ "$found" != None ]; then
			existing="$("${awsr[@]}" lambda get-layer-version --layer-name "$layer" --version-number "$found" \
				--query Content.CodeSha256)" ||
				region_failed "$region" "aws lambda get-layer-version --layer-name $layer --version-number $found failed"
			if [ "$existing" = "$code_sha" ]; then
				number="$found"
				echo "publish: $region: $zip is already $layer:$number ($description)" >&2
			fi
		fi
		if [ -z "$number" ]; then
			echo "publish: $region: $zip -> layer $layer ($description)${AWS_ENDPOINT_URL:+ at $AWS_ENDPOINT_URL}" >&2
			number="$("${awsr[@]}" lambda publish-layer-version \
				--layer-name "$layer" \
				--description "$description" \
				${license_args[@]+"${license_args[@]}"} \
				--compatible-architectures "$arch" \
				--zip-file "fileb://$zip" \
				--query Version)" ||
				region_failed "$region" "aws lambda publish-layer-version --layer-name $layer failed"
		fi

		# Share: one statement per principal, added only when it is not there yet.
		if [ -n "${grants[*]-}" ]; then
			policy="$("${awsr[@]}" lambda get-layer-version-policy --layer-name "$layer" \
				--version-number "$number" --query Policy 2>/dev/null || true)"
			for grant in "${grants[@]}"; do
				IFS='|' read -r principal org sid <<<"$grant"
				sid_re="\"Sid\" *: *\"$sid\""
				if [[ "$policy" =~ $sid_re ]]; then
					continue
				fi
				org_args=()
				[ -z "$org" ] || org_args=(--organization-id "$org")
				"${awsr[@]}" lambda add-layer-version-permission --layer-name "$layer" \
					--version-number "$number" --statement-id "$sid" \
					--action lambda:GetLayerVersion --principal "$principal" \
					${org_args[@]+"${org_args[@]}"} >/dev/null ||
					region_failed "$region" "aws lambda add-layer-version-permission --layer-name $layer --version-number $number --statement-id $sid failed"
			done
		fi

		# Check what Lambda now holds.
		# shellcheck disable=SC2016 # the backticks are a JMESPath literal
		IFS=$'\t' read -r arn got_arches got_description got_sha < <("${awsr[@]}" lambda get-layer-version \
			--layer-name "$layer" --version-number "$number" \
			--query '[LayerVersionArn, join(`,`, CompatibleArchitectures), Description, Content.CodeSha256]') ||
			region_failed "$region" "aws lambda get-layer-version --layer-name $layer --version-number $number failed"
		[ "$got_arches" = "$arch" ] ||
			region_failed "$region" "$layer:$number has architectures '$got_arches', want '$arch'"
		[ "$got_description" = "$description" ] ||
			region_failed "$region" "$layer:$number has description '$got_description', want '$description'"
		[ "$got_sha" = "$code_sha" ] ||
			region_failed "$region" "$layer:$number has content sha256 $got_sha, want $code_sha ($zip)"
		if [ -n "${grants[*]-}" ]; then
			policy="$("${awsr[@]}" lambda get-layer-version-policy --layer-name "$layer" \
				--version-number "$number" --query Policy)" ||
				region_failed "$region" "aws lambda get-layer-version-policy --layer-name $layer --version-number $number failed"
			for grant in "${grants[@]}"; do
				IFS='|' read -r principal org sid <<<"$grant"
				sid_re="\"Sid\" *: *\"$sid\""
				[[ "$policy" =~ $sid_re ]] ||
					region_failed "$region" "$layer:$number has no permission statement '$sid'"
			done
		fi

		rows+=("$region|$arch|$layer|$arn|$number|$sha|$zip")
		write_outputs
		echo "$arn"
	done
done

echo "publish: done: $(count "${rows[@]}") layer version(s) in $(count "${regions[@]}") region(s), listed in $OUT_DIR/layers.json and $OUT_DIR/layers.md" >&2
