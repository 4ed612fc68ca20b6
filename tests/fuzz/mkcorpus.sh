#!/bin/sh
# mkcorpus.sh: write the fuzz seeds for fuzz_img into tests/fuzz/corpus/img:
# tiny whole images of every format from scripts/vj-mkimages, and broken
# ones made from them (cut, no pixel data, wrong RIFF size, no GIF frame).
# Run from the top of the tree after `make scripts/vj-mkimages`.
set -e
d=tests/fuzz/corpus/img
mk=scripts/vj-mkimages
rm -rf "$d" && mkdir -p "$d"
$mk --one 16x8 shapes jpg "$d/small.jpg"
$mk --one 16x8 left jpg "$d/exif6.jpg" --orientation 6
$mk --one 8x8 gradient png "$d/small.png"
$mk --one 4x4 grey png16 "$d/grey16.png"
$mk --one 8x8 shapes gif "$d/small.gif"
$mk --one 16x16 shapes webp "$d/small.webp"
n=$(wc -c <"$d/small.jpg")
head -c $((n / 2)) "$d/small.jpg" >"$d/cut.jpg"
n=$(wc -c <"$d/small.png")
head -c $((n - 12)) "$d/small.png" >"$d/no-iend.png"
# signature, IHDR 100000x100000 RGB, IEND: 45 bytes and no pixel data
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\001\206\240\000\001\206\240\010\002\000\000\000\000\000\000\000\000\000\000\000IEND\256B`\202' >"$d/nopixels.png"
# screen 10x10 with a 2-colour table, then the trailer at once
printf 'GIF89a\n\000\n\000\200\000\000\000\000\000\377\377\377;' >"$d/noframe.gif"
# the RIFF size of small.webp plus 256
{ head -c 4 "$d/small.webp"; n=$(($(wc -c <"$d/small.webp") - 8 + 256));
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24)))";
  tail -c +9 "$d/small.webp"; } >"$d/bad-riff.webp"
# an ftyp heic box, a meta box holding nothing
printf '\000\000\000\030ftypheic\000\000\000\000mif1heic\000\000\000\014meta\000\000\000\000' >"$d/tiny.heic"
ls "$d"
