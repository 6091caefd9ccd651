"""The Client API: the FastAPI app and its routes (tuneflows' and the seed's), the request
guards, the uvicorn server and the Python client."""
