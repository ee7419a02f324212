# pyzgc-lib.sh: shell functions shared by ./configure and Tools/zgc/*.
#
# Owns: finding and verifying the pinned upstream tarball, listing the
# overlay (patches/ and our new files), and assembling or re-syncing the
# source tree in <builddir>/build.  POSIX sh; sourced, never run.
#
# The assembled tree <builddir>/build is pristine upstream + every patch +
# a symlink for each of our new files.  Its bookkeeping lives in
# build/.pyzgc/: "signature" (hash of the pin, every patch and the list of
# new files), "manifest" (P <sha256> <path> for each patched file as we
# left it, L <path> for each link), "tarball" and "srcdir".
#
# Invariant: build/ is either absent or fully assembled for the signature
# it records.  A first assembly happens in a temporary directory that is
# renamed into place; a re-sync computes the new tree in a temporary
# directory first and only then copies the files whose content changed
# (keeping every other file's mtime, so make rebuilds only what changed).
# A re-sync never overwrites a patched file that was edited in place and
# not saved with Tools/zgc/save-edits.

ZGC_OVERLAY_DIRS="Doc Include InternalDocs Lib Misc Modules Objects Parser \
Programs Python Tools"

zgc_die() {
    printf 'pyzgc: error: %s\n' "$*" >&2
    exit 1
}

zgc_note() {
    printf 'pyzgc: %s\n' "$*" >&2
}

zgc_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -d' ' -f1
    else
        zgc_die "no sha256 tool found: install coreutils (sha256sum)"
    fi
}

# zgc_load_pin SRCDIR: read upstream.pin into PIN_* variables.
zgc_load_pin() {
    [ -r "$1/upstream.pin" ] || zgc_die "$1/upstream.pin is missing"
    . "$1/upstream.pin"
}

# zgc_fetch URL DEST: download with a short connect timeout.
zgc_fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --connect-timeout 5 --max-time 600 -o "$2" "$1" 2>/dev/null
    elif command -v wget >/dev/null 2>&1; then
        wget -q --connect-timeout=5 --timeout=60 -O "$2" "$1" 2>/dev/null
    else
        return 1
    fi
}

# zgc_debian_mirrors: print the http(s) archive URIs named by this machine's
# apt sources (one-line .list files and deb822 .sources files), once each.
zgc_debian_mirrors() {
    _sl=/etc/apt/sources.list
    _sp=/etc/apt/sources.list.d
    if command -v apt-config >/dev/null 2>&1; then
        eval "$(apt-config shell _sl Dir::Etc::sourcelist/f \
                                  _sp Dir::Etc::sourceparts/d 2>/dev/null)"
    fi
    {
        for _f in "$_sl" "$_sp"/*.list; do
            [ -r "$_f" ] || continue
            sed -n 's/\[[^]]*\]//; s/^[ 	]*deb\(-src\)\{0,1\}[ 	]\{1,\}\([^ 	]*\).*/\2/p' "$_f"
        done
        for _f in "$_sp"/*.sources; do
            [ -r "$_f" ] || continue
            sed -n 's/^URIs:[ 	]*//p' "$_f" | tr ' \t' '\n\n'
        done
    } | grep -E '^https?://' | sed 's:/*$::' | awk '!seen[$0]++'
}

# zgc_try_tarball PATH LABEL: succeed (and set ZGC_TARBALL) if PATH holds the
# pinned tarball; otherwise append why to ZGC_TRIED.
zgc_try_tarball() {
    if [ ! -f "$1" ]; then
        ZGC_TRIED="$ZGC_TRIED
  - $2: $1 (not found)"
        return 1
    fi
    _sum=$(zgc_sha256 "$1")
    if [ "$_sum" != "$PIN_SHA256" ]; then
        ZGC_TRIED="$ZGC_TRIED
  - $2: $1 (wrong sha256 $_sum)"
        return 1
    fi
    ZGC_TARBALL=$1
    return 0
}

# zgc_cache_tarball FILE: copy FILE into the cache (atomically); set
# ZGC_TARBALL to the cached copy when that works, else leave it.
zgc_cache_tarball() {
    _cache=${PYZGC_CACHE:-${HOME:-/nonexistent}/.cache/pyzgc}
    _dest=$_cache/$PIN_TARBALL
    [ "$1" = "$_dest" ] && return 0
    if mkdir -p "$_cache" 2>/dev/null &&
       cp "$1" "$_dest.tmp.$$" 2>/dev/null &&
       mv -f "$_dest.tmp.$$" "$_dest" 2>/dev/null; then
        ZGC_TARBALL=$_dest
    else
        rm -f "$_dest.tmp.$$" 2>/dev/null
        zgc_note "could not cache the tarball in $_cache (continuing)"
    fi
}

# zgc_find_tarball SRCDIR EXPLICIT: set ZGC_TARBALL to a verified copy of the
# pinned tarball, trying the documented places in order.
zgc_find_tarball() {
    ZGC_TRIED=
    ZGC_TARBALL=
    _name=$PIN_TARBALL
    if [ -n "$2" ]; then
        zgc_try_tarball "$2" "--with-upstream-tarball" ||
            zgc_die "--with-upstream-tarball=$2 is not the pinned $_name:$ZGC_TRIED
  fix: pass the file whose sha256 is $PIN_SHA256"
        zgc_cache_tarball "$ZGC_TARBALL"
        return 0
    fi
    if [ -n "${PYZGC_UPSTREAM_TARBALL:-}" ]; then
        zgc_try_tarball "$PYZGC_UPSTREAM_TARBALL" "\$PYZGC_UPSTREAM_TARBALL" ||
            zgc_die "\$PYZGC_UPSTREAM_TARBALL=$PYZGC_UPSTREAM_TARBALL is not the pinned $_name:$ZGC_TRIED
  fix: point it at the file whose sha256 is $PIN_SHA256, or unset it"
        zgc_cache_tarball "$ZGC_TARBALL"
        return 0
    fi
    _cache=${PYZGC_CACHE:-${HOME:-/nonexistent}/.cache/pyzgc}
    zgc_try_tarball "$_cache/$_name" "cache" && return 0
    _shared=$(cd "$1/.." && pwd)/shared/upstream/$_name
    if zgc_try_tarball "$_shared" "../shared/upstream"; then
        zgc_cache_tarball "$ZGC_TARBALL"
        return 0
    fi
    _tmp=${TMPDIR:-/tmp}/pyzgc-download.$$
    for _url in "$PIN_URL" $(zgc_debian_mirrors |
                sed "s:\$:/pool/$PIN_DEBIAN_POOL:"); do
        zgc_note "downloading $_url"
        if zgc_fetch "$_url" "$_tmp" &&
           zgc_try_tarball "$_tmp" "download"; then
            zgc_cache_tarball "$_tmp"
            if [ "$ZGC_TARBALL" = "$_tmp" ]; then
                # Not cacheable: keep the download beside the build.
                mv -f "$_tmp" "$ZGC_BUILDDIR/.pyzgc-$_name" &&
                    ZGC_TARBALL=$ZGC_BUILDDIR/.pyzgc-$_name
            fi
            rm -f "$_tmp"
            return 0
        fi
        rm -f "$_tmp"
        ZGC_TRIED="$ZGC_TRIED
  - download: $_url (failed or wrong checksum)"
    done
    zgc_die "cannot obtain the pinned upstream tarball $_name (sha256 $PIN_SHA256). Tried:$ZGC_TRIED
  fix: download $_name (e.g. from $PIN_URL or Debian's pool/$PIN_DEBIAN_POOL)
       and pass --with-upstream-tarball=PATH, or set PYZGC_UPSTREAM_TARBALL=PATH,
       or put it in $_cache/"
}

# zgc_list_patches SRCDIR: patches relative to SRCDIR/patches, sorted.
zgc_list_patches() {
    [ -d "$1/patches" ] || return 0
    (cd "$1/patches" && find . -type f -name '*.patch' | sed 's:^\./::' |
        LC_ALL=C sort)
}

# zgc_list_new_files SRCDIR: our own files to place in the tree, sorted.
zgc_list_new_files() {
    (cd "$1" && for _d in $ZGC_OVERLAY_DIRS; do
        [ -d "$_d" ] || continue
        find "$_d" -type f ! -name '.*' ! -name '*~' ! -name '*.py[co]' \
            ! -name '*.o' ! -path '*/__pycache__/*'
    done | LC_ALL=C sort)
}

# zgc_signature SRCDIR: one hash over everything that shapes the tree.
zgc_signature() {
    {
        echo "srcdir $1"
        cat "$1/upstream.pin"
        zgc_list_patches "$1" | while read -r _p; do
            echo "patch $_p $(zgc_sha256 "$1/patches/$_p")"
        done
        zgc_list_new_files "$1" | sed 's/^/new /'
    } > "${TMPDIR:-/tmp}/pyzgc-sig.$$"
    zgc_sha256 "${TMPDIR:-/tmp}/pyzgc-sig.$$"
    rm -f "${TMPDIR:-/tmp}/pyzgc-sig.$$"
}

# zgc_patched_paths PATCHFILE: the paths a patch modifies (its +++ lines).
zgc_patched_paths() {
    sed -n 's:^+++ b/\([^	]*\).*:\1:p' "$1"
}

# zgc_extract TARBALL DEST: unpack the tarball's top directory as DEST.
zgc_extract() {
    mkdir -p "$2" || return 1
    xz -dc "$1" | tar -xf - -C "$2" --strip-components=1 || return 1
}

# zgc_apply_patches SRCDIR TREE: apply every patch exactly (no fuzz, no
# offset); fail loudly naming the patch.
zgc_apply_patches() {
    for _p in $(zgc_list_patches "$1"); do
        _out=$(cd "$2" && patch -p1 --forward --batch --fuzz=0 \
                --no-backup-if-mismatch --reject-file=- \
                < "$1/patches/$_p" 2>&1)
        _rc=$?
        if [ $_rc -ne 0 ] ||
           printf '%s\n' "$_out" | grep -q -i -E 'fuzz|offset|FAILED|reversed|ignored'; then
            printf '%s\n' "$_out" >&2
            zgc_note "patches/$_p does not apply exactly to pristine $PIN_VERSION"
            return 1
        fi
    done
    return 0
}

# zgc_link_new_files SRCDIR TREE: symlink each of our new files into TREE.
zgc_link_new_files() {
    for _f in $(zgc_list_new_files "$1"); do
        if [ -e "$2/$_f" ] && [ ! -L "$2/$_f" ]; then
            zgc_note "$_f exists upstream: change it with patches/$_f.patch instead"
            return 1
        fi
        mkdir -p "$2/$(dirname "$_f")" && ln -sfn "$1/$_f" "$2/$_f" || return 1
    done
    return 0
}

# zgc_write_manifest SRCDIR TREE: record what the assembly left behind.
zgc_write_manifest() {
    mkdir -p "$2/.pyzgc" || return 1
    {
        for _p in $(zgc_list_patches "$1"); do
            zgc_patched_paths "$1/patches/$_p"
        done | LC_ALL=C sort -u | while read -r _f; do
            echo "P $(zgc_sha256 "$2/$_f") $_f"
        done
        zgc_list_new_files "$1" | sed 's/^/L /'
    } > "$2/.pyzgc/manifest.tmp" &&
        mv -f "$2/.pyzgc/manifest.tmp" "$2/.pyzgc/manifest"
}

# zgc_assemble SRCDIR BUILDDIR TARBALL: make BUILDDIR/build match the repo.
zgc_assemble() {
    _src=$1
    _tree=$2/build
    _sig=$(zgc_signature "$_src")
    if [ -f "$_tree/.pyzgc/signature" ] &&
       [ "$(cat "$_tree/.pyzgc/signature")" = "$_sig" ]; then
        return 0
    fi
    _tmp=$2/.pyzgc-assemble.$$
    rm -rf "$_tmp"
    trap 'rm -rf "$_tmp"' EXIT INT TERM
    zgc_note "assembling upstream $PIN_VERSION + patches"
    zgc_extract "$3" "$_tmp" ||
        zgc_die "cannot unpack $3 (is xz installed?)"
    zgc_apply_patches "$_src" "$_tmp" ||
        zgc_die "a patch does not apply: refresh it against pristine $PIN_VERSION (Tools/zgc/save-edits) and re-run"
    if [ ! -d "$_tree" ]; then
        zgc_link_new_files "$_src" "$_tmp" ||
            zgc_die "cannot place our new files"
        zgc_write_manifest "$_src" "$_tmp" || zgc_die "cannot write manifest"
        echo "$3" > "$_tmp/.pyzgc/tarball"
        echo "$_src" > "$_tmp/.pyzgc/srcdir"
        echo "$_sig" > "$_tmp/.pyzgc/signature"
        mv "$_tmp" "$_tree" || zgc_die "cannot create $_tree"
        trap - EXIT INT TERM
        return 0
    fi
    zgc_note "re-syncing $_tree with the repo"
    zgc_resync "$_src" "$_tree" "$_tmp" || exit 1
    echo "$3" > "$_tree/.pyzgc/tarball"
    echo "$_src" > "$_tree/.pyzgc/srcdir"
    echo "$_sig" > "$_tree/.pyzgc/signature"
    rm -rf "$_tmp"
    trap - EXIT INT TERM
}

# zgc_resync SRCDIR TREE NEWTREE: bring an assembled TREE to NEWTREE's
# content (NEWTREE: pristine + current patches, without links).
zgc_resync() {
    _man=$2/.pyzgc/manifest
    [ -f "$_man" ] || {
        zgc_note "$2 has no manifest: remove it and re-run configure"
        return 1
    }
    _unsaved=
    while read -r _kind _a _b; do
        case $_kind in
        P)  [ -f "$2/$_b" ] || continue
            _cur=$(zgc_sha256 "$2/$_b")
            if [ "$_cur" != "$_a" ] && { [ ! -f "$3/$_b" ] ||
                    [ "$_cur" != "$(zgc_sha256 "$3/$_b")" ]; }; then
                _unsaved="$_unsaved $_b"
            fi ;;
        L)  if [ -e "$2/$_a" ] && [ ! -L "$2/$_a" ]; then
                _unsaved="$_unsaved $_a"
            fi ;;
        esac
    done < "$_man"
    if [ -n "$_unsaved" ]; then
        zgc_note "edited in $2 but not saved:$_unsaved"
        zgc_note "save them (Tools/zgc/save-edits --tree $2) or remove $2, then re-run"
        return 1
    fi
    # Patched files, old and new.
    {
        sed -n 's/^P [^ ]* //p' "$_man"
        for _p in $(zgc_list_patches "$1"); do
            zgc_patched_paths "$1/patches/$_p"
        done
    } | LC_ALL=C sort -u | while read -r _f; do
        if [ -f "$3/$_f" ]; then
            if ! cmp -s "$3/$_f" "$2/$_f"; then
                cp -p "$3/$_f" "$2/$_f.pyzgc-new" &&
                    mv -f "$2/$_f.pyzgc-new" "$2/$_f" || exit 1
                touch "$2/$_f"
            fi
        else
            rm -f "$2/$_f"
        fi
    done || return 1
    # Links that are gone, then the current ones.
    sed -n 's/^L //p' "$_man" | while read -r _f; do
        [ -f "$1/$_f" ] || rm -f "$2/$_f"
    done
    zgc_link_new_files "$1" "$2" || return 1
    zgc_write_manifest "$1" "$2"
}
