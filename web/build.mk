# web/: static pages served by arena-server (plain HTML, CSS, ES modules and SVG drawn by
# web/charts.js): nothing to build. web/package.json pins playwright-core for the browser
# tests only; ops/deps.sh installs it with npm ci.
web:
