"""Guide PDFs draw data: images and fetch nothing else."""

import http.server
import threading

from tongban.catalogue.pdf import render_pdf

SVG = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxMCIgaGVpZ2h0PSIxMCIvPg=="


def test_data_images_render_and_outside_urls_are_never_fetched():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.png"
        pdf = render_pdf(f'<p>办事指南</p><img src="{SVG}"><img src="{url}">')
    finally:
        server.shutdown()
    assert pdf.startswith(b"%PDF-") and hits == []
