# web/: static pages served by arena-server. Assets from npm are copied into web/vendor/
# by ops/deps.sh so the running server needs no network.
web:
