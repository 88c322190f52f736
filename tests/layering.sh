#!/bin/sh
# layering.sh - the part boundaries DESIGN.md draws, checked on the
# sources: no file under src/ui/, and not the doctor (src/train/doctor.c,
# include/nntop/doctor.h), reaches an engine header (nn.h, optim.h,
# blas.h), directly or through the headers it includes, because both must
# know the model only as telemetry describes it.
#
# Also the README's Layout table against the folders and headers.
#
# It reads #include lines only; it does not compile anything.  Exit 1
# with one line per offending include chain.  Lines start with
# "# layering: ".
set -u

top_srcdir=${top_srcdir:-.}
cd "$top_srcdir" || exit 99
FAILED=0
CHECKED=0

# The headers a file includes with "...", resolved as the compiler would
# (the file's own folder, then include/).
includes() {
    dir=$(dirname "$1")
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1" |
        while read -r h; do
            if [ -f "$dir/$h" ]; then
                echo "$dir/$h"
            elif [ -f "include/$h" ]; then
                echo "include/$h"
            fi
        done
}

# Walk the include graph from $1; print "chain" for every engine header reached.
walk() {
    file=$1
    chain=$2
    seen=$3
    for h in $(includes "$file"); do
        case " $seen " in *" $h "*) continue ;; esac
        seen="$seen $h"
        case $h in
        include/nntop/nn.h | include/nntop/optim.h | include/nntop/blas.h)
            echo "$chain -> $h"
            ;;
        *)
            walk "$h" "$chain -> $h" "$seen"
            ;;
        esac
    done
}

for f in src/ui/*.c src/ui/*.h src/train/doctor.c include/nntop/doctor.h; do
    [ -f "$f" ] || continue
    CHECKED=$((CHECKED + 1))
    bad=$(walk "$f" "$f" "")
    if [ -n "$bad" ]; then
        echo "$bad" | sed 's/^/# layering: FAIL engine header reached: /'
        FAILED=$((FAILED + 1))
    fi
done

# The README's Layout table shows the plan: a row for every folder under
# src/, and every public header named in the row of the folder that
# implements it: the one holding the header's .c file, or named after it
# (nn.h, ui.h).
LAYOUT=$(sed -n '/^## Layout/,/^## /p' README.md)
for d in src/*/; do
    d=${d%/}
    if ! printf '%s\n' "$LAYOUT" | grep -q "^| \`$d/\`"; then
        echo "# layering: FAIL README.md's Layout table has no row for $d/"
        FAILED=$((FAILED + 1))
    fi
done
for h in include/nntop/*.h; do
    b=${h##*/}
    row=$(printf '%s\n' "$LAYOUT" | grep -F "\`$b\`" | head -n 1)
    dir=$(printf '%s\n' "$row" | sed -n 's/^| `\(src\/[a-z]*\)\/`.*/\1/p')
    case $row in
    '| `src/headless.c`'*) dir=src ;;
    esac
    if [ -z "$dir" ]; then
        echo "# layering: FAIL README.md's Layout table names $b in no folder's row"
        FAILED=$((FAILED + 1))
    elif ! [ -f "$dir/${b%.h}.c" ] && [ "$dir" != "src/${b%.h}" ]; then
        echo "# layering: FAIL README.md puts $b under $dir/, which has no ${b%.h}.c"
        FAILED=$((FAILED + 1))
    fi
done

if [ "$CHECKED" -eq 0 ]; then
    echo "# layering: FAIL no files under $top_srcdir/src/ui"
    exit 1
fi
echo "# layering: $CHECKED files (src/ui and the doctor) checked for engine headers, README.md's Layout table against src/ and include/nntop/: $FAILED failures"
[ "$FAILED" -eq 0 ]
