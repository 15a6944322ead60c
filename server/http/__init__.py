"""The HTTP boundary: the endpoint wrapper (sign-in, CSRF), errors -> status, middleware, pages."""
