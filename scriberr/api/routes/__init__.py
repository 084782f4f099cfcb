"""Route modules; each exposes `router: APIRouter` and is listed in `scriberr.api.app`."""
