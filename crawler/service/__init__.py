"""The on-demand capture service: an API and a web page over a durable queue of capture requests."""
