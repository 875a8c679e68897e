from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404


class ScopedObjectMixin(LoginRequiredMixin):
    """HTML views: the object comes from `model.objects.visible_to(user)`; outside scope is 404."""

    model = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get_object(self, queryset=None):
        queryset = queryset if queryset is not None else self.get_queryset()
        try:
            return queryset.get(pk=self.kwargs["pk"])
        except self.model.DoesNotExist:
            raise Http404 from None
