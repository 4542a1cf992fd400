"""Vigil's URLs plus B1's baseline (c): a bare view that only parses the JSON body and answers
202, served by the same gunicorn, settings and middleware stack as `POST /hooks/<id>/`."""

import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as vigil_urlpatterns


@csrf_exempt
@login_not_required
@require_POST
def bare_view(request):
    body = json.loads(request.body)
    return JsonResponse({"accepted": len(body.get("alerts") or ())}, status=202)


urlpatterns = [path("bench/bare/", bare_view, name="bench_bare"), *vigil_urlpatterns]
