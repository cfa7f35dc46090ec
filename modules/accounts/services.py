from django.db import transaction


@transaction.atomic
def update_profile(user, *, first_name, last_name, phone, time_zone, language):
    user.first_name = first_name
    user.last_name = last_name
    user.phone = phone
    user.time_zone = time_zone
    user.language = language
    user.save(update_fields=["first_name", "last_name", "phone", "time_zone", "language"])
    return user
