#!/usr/bin/env bash
# Fetch the real artwork behind the "wallpaper" style: desktop backgrounds that Debian packages ship.
#
#   scripts/fetch_art_sources.sh [OUT] [CACHE]
#     OUT    folder of images for config styles.wallpaper.source (default ../shared/data/art/wallpaper)
#     CACHE  where the .deb files are downloaded and unpacked (default ~/.cache/karyospectrum/debs)
#
# Run by hand once (it needs apt-get and the Debian mirror); the workflow never downloads anything.
# Each package's copyright file is copied to OUT/copyright/<package>, and OUT/SOURCES.tsv lists
# file, package, version and license summary per image (rule style_dataset records them in the card).
set -euo pipefail

OUT=${1:-../shared/data/art/wallpaper}
CACHE=${2:-${HOME}/.cache/karyospectrum/debs}
# Debian 12 (bookworm) packages of desktop backgrounds: photographs and digital paintings.
PACKAGES=(plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds ukui-wallpapers
    lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 lxqt-themes)

mkdir -p "$CACHE" "$OUT/copyright"
cd "$CACHE"
apt-get download "${PACKAGES[@]}"
OUT=$(cd - >/dev/null && cd "$OUT" && pwd)
printf 'file\tpackage\tversion\tlicense\n' >"$OUT/SOURCES.tsv"

for pkg in "${PACKAGES[@]}"; do
    deb=$(ls "${pkg}"_*.deb | head -n 1)
    version=$(dpkg-deb -f "$deb" Version)
    rm -rf "x/$pkg" && mkdir -p "x/$pkg" && dpkg-deb -x "$deb" "x/$pkg"
    copyright="x/$pkg/usr/share/doc/$pkg/copyright"
    cp "$copyright" "$OUT/copyright/$pkg"
    licenses=$(grep -E '^ *(License:|Licensed under)' "$copyright" | sed -E 's/^ *(License: *|Licensed under *)//' |
        sort -u | paste -sd ';' - | tr '\t' ' ')
    case $pkg in
    plasma-workspace-wallpapers) # one folder per wallpaper, many sizes of it: keep the largest file
        files=$(for d in "x/$pkg"/usr/share/wallpapers/*/contents/images; do ls -S "$d"/* | head -n 1; done) ;;
    mate-backgrounds) # the Elephants wallpaper comes in three sizes: keep the largest
        files=$(find "x/$pkg/usr/share/backgrounds" -type f \( -name '*.jpg' -o -name '*.png' \) \
            ! -name 'Elephants.jpg' ! -name 'Elephants_3840x2160.jpg') ;;
    lxqt-themes)
        files=$(find "x/$pkg/usr/share/lxqt/wallpapers" -type f \( -name '*.jpg' -o -name '*.png' \)) ;;
    *)
        files=$(find "x/$pkg/usr/share/backgrounds" -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.webp' \)) ;;
    esac
    n=0
    for f in $files; do
        name="${pkg}__$(echo "${f#x/"$pkg"/usr/share/}" | tr '/ ' '__')"
        cp "$f" "$OUT/$name"
        printf '%s\t%s\t%s\t%s\n' "$name" "$pkg" "$version" "$licenses" >>"$OUT/SOURCES.tsv"
        n=$((n + 1))
    done
    echo "$pkg $version: $n images" >&2
done
echo "wrote $(($(wc -l <"$OUT/SOURCES.tsv") - 1)) images to $OUT" >&2
