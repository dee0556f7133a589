#!/bin/sh
# refresh.sh GRAPHIQL_VERSION [REACT_VERSION]
#
# Replaces the third-party files the playground embeds (graph/playground/npm/) with those of the
# npm registry's releases: graphiql's self-contained browser build (graphiql.min.js and
# graphiql.min.css, a UMD bundle that needs only React and ReactDOM), the UMD production builds
# of react and react-dom (REACT_VERSION, default 18.3.1: React 19 ships no UMD build), and each
# package's license. It writes npm/manifest.json: each package's version and the registry's
# integrity of its tarball (npm pack checks the download against it), and each file's SHA-256,
# which `go test ./graph/playground/` compares with what the binary embeds.
#
# It is the only step that touches the network; `go generate` does not run it. Needs npm, tar
# and sha256sum. Afterwards run `go test ./graph/playground/` and the browser test
# (`go test -run TestBrowserPlayground .`), and commit npm/.
#
# graphiql 5 and later ship ES modules for a bundler, not a browser build; 4.1.2 is the last
# release with one.
set -eu

usage() { echo "usage: $0 GRAPHIQL_VERSION [REACT_VERSION]   (e.g. $0 4.1.2 18.3.1)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
graphiql=$1
react=${2:-18.3.1}
for v in "$graphiql" "$react"; do
  # An exact version: a range or a tag would make the manifest say something npm did not fetch.
  if ! printf '%s\n' "$v" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'; then
    echo "refresh: $v is not an exact version (x.y.z)" >&2
    usage
  fi
done

here=$(cd "$(dirname "$0")" && pwd)
out=$here/npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION: the package's tarball, unpacked into $work/NAME; prints its integrity.
fetch() {
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null) || { echo "refresh: npm pack $1@$2 failed" >&2; exit 1; }
  mkdir "$work/$1"
  tar -xzf "$work/$1-$2.tgz" -C "$work/$1"
  npm view "$1@$2" dist.integrity
}

# need FILE WHAT: stops with WHAT when the package lacks FILE.
need() {
  [ -f "$1" ] || { echo "refresh: $2" >&2; exit 1; }
}

graphiql_integrity=$(fetch graphiql "$graphiql")
react_integrity=$(fetch react "$react")
react_dom_integrity=$(fetch react-dom "$react")

g=$work/graphiql/package
need "$g/graphiql.min.js" "graphiql@$graphiql ships no browser build (graphiql.min.js): pick a 4.x or earlier release"
need "$g/graphiql.min.css" "graphiql@$graphiql ships no graphiql.min.css"
need "$g/LICENSE" "graphiql@$graphiql ships no LICENSE"
for p in react react-dom; do
  need "$work/$p/package/umd/$p.production.min.js" "$p@$react ships no UMD build (umd/$p.production.min.js): pick a React 18 release"
  need "$work/$p/package/LICENSE" "$p@$react ships no LICENSE"
done

# The new files go to a fresh folder that replaces npm/ whole, so no file of the old release stays.
new=$work/out
mkdir "$new"
cp "$g/graphiql.min.js" "$g/graphiql.min.css" "$new/"
cp "$g/LICENSE" "$new/graphiql.LICENSE.txt"
for p in react react-dom; do
  cp "$work/$p/package/umd/$p.production.min.js" "$new/"
  cp "$work/$p/package/LICENSE" "$new/$p.LICENSE.txt"
done

# entry NAME FROM: one line of the manifest's file list.
entry() {
  printf '    {"name": "%s", "from": "%s", "sha256": "%s"}' "$1" "$2" "$(sha256sum "$new/$1" | cut -d' ' -f1)"
}
{
  printf '{\n  "packages": [\n'
  printf '    {"name": "graphiql", "version": "%s", "integrity": "%s"},\n' "$graphiql" "$graphiql_integrity"
  printf '    {"name": "react", "version": "%s", "integrity": "%s"},\n' "$react" "$react_integrity"
  printf '    {"name": "react-dom", "version": "%s", "integrity": "%s"}\n' "$react" "$react_dom_integrity"
  printf '  ],\n  "files": [\n'
  entry graphiql.min.js "graphiql@$graphiql/graphiql.min.js"; printf ',\n'
  entry graphiql.min.css "graphiql@$graphiql/graphiql.min.css"; printf ',\n'
  entry graphiql.LICENSE.txt "graphiql@$graphiql/LICENSE"; printf ',\n'
  entry react.production.min.js "react@$react/umd/react.production.min.js"; printf ',\n'
  entry react.LICENSE.txt "react@$react/LICENSE"; printf ',\n'
  entry react-dom.production.min.js "react-dom@$react/umd/react-dom.production.min.js"; printf ',\n'
  entry react-dom.LICENSE.txt "react-dom@$react/LICENSE"; printf '\n'
  printf '  ]\n}\n'
} >"$new/manifest.json"

rm -rf "$out"
mkdir "$out"
cp "$new"/* "$out/"
echo "refresh: graphiql@$graphiql, react@$react and react-dom@$react written to $out"
