from django.urls import path

from journeys import views

urlpatterns = [
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact-detail"),
]
