"""WTForms classes; every form carries a CSRF token through Flask-WTF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new", message=_l("The passwords do not match."))],
    )


class LanguageForm(FlaskForm):
    locale = SelectField(
        _l("Language"), choices=[SelectChoice("zh", "简体中文"), SelectChoice("en", "English")]
    )


class PostForm(FlaskForm):
    """An empty form: gives POST-only buttons their CSRF token."""


class SignOffForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])


class EssayGradeForm(FlaskForm):
    percent = DecimalField(
        _l("Score (% of the mark)"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    comment = TextAreaField(_l("Comment"), validators=[Length(max=5000)])
