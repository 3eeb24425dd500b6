if command -v perl >/dev/null 2>&1; then printf 1; else printf 0; fi
printf '%s' "$HOME"