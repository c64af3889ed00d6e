from django.urls import path

from journeys import views

urlpatterns = [
    path("journeys/", views.journey_list, name="journey-list"),
    path("journeys/<int:journey_id>/", views.journey_detail, name="journey-detail"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact-detail"),
]
