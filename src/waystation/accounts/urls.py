from django.contrib.auth import views as auth_views
from django.urls import path

from waystation.accounts import reauth, signin, views

app_name = "accounts"
urlpatterns = [
    path("login/", signin.SignInView.as_view(), name="login"),
    path("two-factor/", signin.two_factor, name="two_factor"),
    path("confirm/", reauth.confirm, name="reauth"),
    path("two-factor/setup/", signin.two_factor_setup, name="two_factor_setup"),
    path("security/backup-codes/", views.backup_codes_new, name="backup_codes_new"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("security/", views.security, name="security"),
    path("security/password/", views.password_change, name="password_change"),
    path("security/duress/", views.duress_password, name="duress_password"),
    path("sessions/end/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("sessions/end-all/", views.end_all_sessions, name="end_all_sessions"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/active/", views.user_set_active, name="user_set_active"),
    path("users/<int:user_id>/unlock/", views.user_unlock, name="user_unlock"),
    path("users/<int:user_id>/reset-password/", views.user_reset_password, name="user_reset_password"),
    path("users/<int:user_id>/reset-second-factor/", views.user_reset_second_factor, name="user_reset_2fa"),
    path("users/<int:user_id>/duress-clear/", views.duress_clear, name="duress_clear"),
]
