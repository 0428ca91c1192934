from django.urls import path

from waystation.cases import views
from waystation.network import views as network_views
from waystation.vault import views as vault_views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("register/", views.register, name="register"),
    path("<str:code>/", views.detail, name="detail"),
    path("<str:code>/edit/", views.edit, name="edit"),
    path("<str:code>/status/", views.change_status, name="status"),
    path("<str:code>/close/", views.close, name="close"),
    path("<str:code>/consent/", views.consent, name="consent"),
    path("<str:code>/family/", views.family, name="family"),
    path("<str:code>/episodes/new/", views.episode, name="episode"),
    path("<str:code>/needs/new/", views.needs, name="needs"),
    path("<str:code>/goals/new/", views.goal, name="goal"),
    path("<str:code>/goals/<int:goal_id>/status/", views.goal_status, name="goal_status"),
    path("<str:code>/services/new/", views.service, name="service"),
    path("<str:code>/referrals/new/", views.referral, name="referral"),
    path("<str:code>/referrals/<int:referral_id>/status/", views.referral_status, name="referral_status"),
    path("<str:code>/tasks/new/", views.task, name="task"),
    path("<str:code>/tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("<str:code>/notes/new/", views.note, name="note"),
    path("<str:code>/photo/", views.photo, name="photo"),
    path("<str:code>/shred/", vault_views.shred_case, name="shred"),
    path("<str:code>/assign/", views.assign, name="assign"),
    path("<str:code>/assignments/<int:assignment_id>/end/", views.assignment_end, name="assignment_end"),
    path("<str:code>/move/", network_views.move, name="move"),
    path("<str:code>/movements/<int:movement_id>/", network_views.movement_update, name="movement_update"),
]
