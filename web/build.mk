# web/: static pages served by arena-server (plain HTML, CSS, ES modules and SVG drawn by
# web/charts.js): nothing to build, and nothing in web/ that is not served.
web:
