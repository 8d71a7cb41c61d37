# Shared set-up for ./run, ./test and .ci/run: sourced, not executed. Needs only python3 (3.10 or
# newer) with pip and venv; npm for the front-end packages. Each step is skipped while what it
# installs is unchanged: a hash of its inputs is kept beside what it installed.
#
# Variables: PYTHON (the interpreter that creates .venv, default python3), VENV (default .venv).
# Progress goes to stderr, so the output of the command that follows stays clean.

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

say() { printf '%s\n' "$*" >&2; }
die() { say "Error: $*"; exit 1; }

# The sha256 of the named files' contents, one line per file.
hash_files() {
  local file
  for file in "$@"; do
    if command -v sha256sum >/dev/null 2>&1; then
      sha256sum "$file"
    else
      shasum -a 256 "$file"
    fi
  done | awk '{print $1}'
}

# A requirements file and the files it includes with -r (one level, as ours are written).
requirement_files() {
  local file=$1 dir included
  dir=$(dirname "$file")
  printf '%s\n' "$file"
  sed -n -E 's/^[[:space:]]*(-r|--requirement)[[:space:]=]+([^[:space:]#]+).*/\2/p' "$file" |
    while read -r included; do printf '%s\n' "$dir/$included"; done
}

# ensure_venv FILE: $VENV exists and has FILE's packages (requirements.txt or requirements-dev.txt).
ensure_venv() {
  local requirements=$1 stamp want files
  if ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON was not found. Install Python 3.10 or newer (with pip and venv)."
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
      die "$("$PYTHON" --version 2>&1) is too old: Django 5.2 needs Python 3.10 or newer (set PYTHON=python3.11, say)."
    say "Creating the Python environment in $VENV…"
    "$PYTHON" -m venv --clear "$VENV" ||
      die "could not create $VENV. On Debian/Ubuntu: apt-get install python3-venv"
  fi
  mapfile -t files < <(requirement_files "$requirements")
  want=$( { "$VENV/bin/python" --version 2>&1; hash_files "${files[@]}"; } | tr '\n' ' ')
  stamp="$VENV/.installed-$(basename "$requirements").sha256"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "Installing Python packages ($requirements)…"
  # -qq: errors only (the machine's pip configuration may warn about every package it looks up).
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -r "$requirements" ||
    die "pip could not install $requirements (see above)."
  printf '%s' "$want" >"$stamp"
}

# ensure_assets: node_modules holds package-lock.json's packages (served via STATICFILES_DIRS).
# Without npm, or if npm fails, it says so and goes on: the app runs, unstyled.
ensure_assets() {
  local stamp=node_modules/.installed-package-lock.sha256 want
  if ! command -v npm >/dev/null 2>&1; then
    say "npm was not found: going on WITHOUT the front-end packages (Bootstrap, Bootstrap Icons, htmx,"
    say "SortableJS), so pages will be unstyled. Install Node.js with npm, then run this again."
    return 0
  fi
  want=$(hash_files package.json package-lock.json | tr '\n' ' ')
  if [ -d node_modules ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "Installing front-end packages (npm ci)…"
  if npm ci --no-audit --no-fund --loglevel=error >/dev/null; then
    printf '%s' "$want" >"$stamp"
  else
    say "WARNING: npm ci failed (see above): going on WITHOUT the front-end packages; pages will be unstyled."
  fi
}

# The system libraries that WeasyPrint (the invoice PDFs) loads, as Debian/Ubuntu packages: Pango
# and its FreeType backend, HarfBuzz's subsetter (embedding only the glyphs used) and one font for
# what the invoice font (Inter, from npm) does not cover.
PDF_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"

# pdf_libraries_ok: WeasyPrint finds its libraries (after ensure_venv).
pdf_libraries_ok() { "$VENV/bin/python" -c 'import weasyprint' >/dev/null 2>&1; }

# ensure_pdf_libraries: stops with the command that installs them when they are missing (./run
# never installs system packages by itself).
ensure_pdf_libraries() {
  pdf_libraries_ok && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo "
  say "Invoice PDFs need the Pango text library (used by WeasyPrint), which this machine does not have."
  say "On Debian or Ubuntu, install it with:"
  say ""
  say "  ${sudo}apt-get install $PDF_PACKAGES"
  say ""
  say "(on macOS: brew install pango), then start ./run again."
  exit 1
}
