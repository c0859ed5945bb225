// Starts Redoc on the daemon's own openapi.yaml (a file, not inline: the page's
// Content-Security-Policy allows scripts from the daemon only).
/* global Redoc */
Redoc.init('/openapi.yaml', { hideDownloadButton: false, disableSearch: false }, document.getElementById('redoc'));
