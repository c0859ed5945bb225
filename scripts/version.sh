#!/bin/sh
# Prints leadloopd's version, which the Makefile compiles in (leadloopd --version).
#
# From the newest release tag (vMAJOR.MINOR.PATCH) that git describe finds: 0.3.0 on the
# tagged commit, 0.3.0-5-gabc1234 five commits past it, with -dirty for uncommitted
# changes. Without such a tag, or without git (a release tarball, a docker build whose
# context has no .git): the VERSION file (the next release, e.g. 0.4.0-dev), with
# +g<commit> (and .dirty) when git knows the commit.
set -eu
cd "$(dirname "$0")/.."

if v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	echo "${v#v}"
	exit 0
fi
base=$(cat VERSION 2>/dev/null || echo 0.0.0-unknown)
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
	dirty=
	git diff --quiet HEAD -- 2>/dev/null || dirty=.dirty
	echo "$base+g$commit$dirty"
else
	echo "$base"
fi
