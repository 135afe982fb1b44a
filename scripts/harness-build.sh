# Builds the Go modules under tests/harness into the cache. Sourced by scripts/kube-harness,
# which sets HARNESS, CACHE and log().
#
# A module is a directory with go.mod, go.sum, *.go (tools.go pins upstream commands) and
# recipe.sh, which sets UPSTREAM (the required module whose version names the cache directory;
# VERSION is set to it while the recipe is sourced), PACKAGES, BINARIES, CGO_ENABLED, TAGS,
# LDFLAGS and CHECK (a command run on the fresh binaries before they enter the cache).
#
# Its binaries go to $CACHE/<module>-<version>-<hash>/ (<module>-<hash>/ without UPSTREAM),
# the hash covering go.mod, go.sum, recipe.sh and every *.go of the module, so any change of
# pins, sources or recipe gets a new directory. tests/support/harnesspaths.py computes the
# same names. A directory only ever appears complete: it is built beside and renamed.

module_source_hash() { # module -> sha256 over path\0content\0 of its recipe files, 16 hex digits
    (
        cd "$HARNESS/$1"
        find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name recipe.sh \) \
            -printf '%P\n' | LC_ALL=C sort | while IFS= read -r name; do
            printf '%s\0' "$name"
            cat "$name"
            printf '\0'
        done
    ) | sha256sum | cut -c1-16
}

module_upstream_version() { # module -> version of its UPSTREAM in go.mod ("" without UPSTREAM)
    local upstream
    upstream=$(sed -n 's/^UPSTREAM=//p' "$HARNESS/$1/recipe.sh")
    [[ -n $upstream ]] || return 0
    awk -v m="$upstream" '$1 == "require" && $2 == m { print $3; exit } $1 == m { print $2; exit }' \
        "$HARNESS/$1/go.mod"
}

module_cache_dir() { # module -> its binaries' directory in the cache
    local version
    version=$(module_upstream_version "$1")
    echo "$CACHE/$1${version:+-$version}-$(module_source_hash "$1")"
}

module_recipe() { # module field -> the recipe's array, one element a line
    (
        VERSION=$(module_upstream_version "$1")
        # shellcheck source=/dev/null
        source "$HARNESS/$1/recipe.sh"
        declare -n field=$2
        printf '%s\n' "${field[@]}"
    )
}

build_go_module() { # module cold-minutes: build its commands into the cache unless there
    local module=$1 cold=$2 out name missing=()
    out=$(module_cache_dir "$module")
    for name in $(module_recipe "$module" BINARIES); do
        [[ -x $out/$name ]] || missing+=("$name")
    done
    if ((${#missing[@]} == 0)); then
        log "reusing $out"
        return
    fi
    log "building $module (cold: about $cold min) into $out"
    local tmp=$out.tmp.$$ started=$SECONDS ticker
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (
        minutes=0
        while sleep 120; do
            minutes=$((minutes + 2))
            log "still building $module: $minutes min so far"
        done
    ) &
    ticker=$!
    # shellcheck disable=SC2064 # expand $tmp and $ticker now: they are local to this function
    trap "kill $ticker 2>/dev/null; rm -rf '$tmp'" EXIT
    (
        VERSION=$(module_upstream_version "$module")
        # shellcheck source=/dev/null
        source "$HARNESS/$module/recipe.sh"
        cd "$HARNESS/$module"
        CGO_ENABLED=$CGO_ENABLED go build -trimpath -tags "${TAGS[*]}" -ldflags "${LDFLAGS[*]}" \
            -o "$tmp/" "${PACKAGES[@]}"
        for name in "${BINARIES[@]}"; do
            [[ -x $tmp/$name ]] || { log "go build made no $name for $module"; exit 1; }
        done
        check=$("$tmp/${CHECK[0]}" "${CHECK[@]:1}" 2>&1) || {
            log "$module: ${CHECK[*]} failed: $check"
            exit 1
        }
        log "$module: ${CHECK[*]}: ${check%%$'\n'*}"
    )
    kill "$ticker"
    wait "$ticker" 2>/dev/null || true
    rm -rf "$out"
    mv -T "$tmp" "$out"
    trap - EXIT
    log "built $module in $(((SECONDS - started) / 60))m$(((SECONDS - started) % 60))s: $out"
}

module_report() { # module: its binaries and whether each is there (for `info`)
    local out name
    out=$(module_cache_dir "$1")
    for name in $(module_recipe "$1" BINARIES); do
        if [[ -x $out/$name ]]; then
            printf '  %-24s %s\n' "$name" "$out/$name"
        else
            printf '  %-24s %s  MISSING (run: scripts/kube-harness build)\n' "$name" "$out/$name"
        fi
    done
}
