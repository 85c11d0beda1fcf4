"""The dashboard's static files (our own HTML, JS and CSS; no CDN, no copied libraries)."""
