import pytest

from search_helpers import FACTORIES


@pytest.fixture(params=sorted(FACTORIES))
def factory(request):
    return FACTORIES[request.param]
