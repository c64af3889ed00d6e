from django.urls import path

from handoffs import consumers

websocket_urlpatterns = [
    path("ws/v1/events/", consumers.EventStreamConsumer.as_asgi()),
    path("ws/ui/", consumers.LiveUIConsumer.as_asgi()),
]
