"""The tags API under /api/ (included by config.api_urls): a thing's tags, addressed by the thing's public slug."""

from django.urls import path

from tags import apis

urlpatterns = [
    path("things/<str:slug>/tags/", apis.TagsApi.as_view(), name="api-tags"),
    path("things/<str:slug>/tags/<int:tag_id>/retire", apis.TagRetireApi.as_view(), name="api-tag-retire"),
]
