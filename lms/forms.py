"""WTForms classes; every form carries a CSRF token through Flask-WTF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileSize
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from .content import SLUG


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


class SignOffForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])


class EssayGradeForm(FlaskForm):
    percent = DecimalField(
        _l("Score (percent of the mark)"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    comment = TextAreaField(_l("Comment"), validators=[Length(max=5000)])


SLUG_HELP = _l("lowercase letters, digits and -")


class BilingualTitle(FlaskForm):
    title_zh = StringField(_l("Title (Chinese)"), validators=[DataRequired(), Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[Length(max=200)])


class CourseForm(BilingualTitle):
    summary_zh = TextAreaField(_l("Summary (Chinese)"), validators=[Length(max=5000)])
    summary_en = TextAreaField(_l("Summary (English)"), validators=[Length(max=5000)])


def slug_field(label) -> StringField:
    """A name that becomes a folder or file name in courses/: the loader's slug rule."""
    return StringField(
        label,
        description=SLUG_HELP,
        validators=[DataRequired(), Length(max=80), Regexp(SLUG.pattern, message=SLUG_HELP)],
    )


class NewCourseForm(BilingualTitle):
    slug = slug_field(_l("Short name"))


class NewItemForm(BilingualTitle):
    module = IntegerField(_l("Module"), validators=[InputRequired(), NumberRange(min=0)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("lesson", _l("Lesson")),
            SelectChoice("quiz", _l("Quiz")),
            SelectChoice("practical", _l("Practical")),
        ],
    )
    key = slug_field(_l("File name"))


class LessonForm(BilingualTitle):
    body_zh = TextAreaField(_l("Lesson (Chinese, Markdown)"), validators=[DataRequired()])
    body_en = TextAreaField(_l("Lesson (English, Markdown)"))
    is_required = BooleanField(_l("Required for completion"), default=True)


class PracticalForm(BilingualTitle):
    description_zh = TextAreaField(_l("Description (Chinese)"), validators=[Length(max=5000)])
    description_en = TextAreaField(_l("Description (English)"), validators=[Length(max=5000)])
    is_required = BooleanField(_l("Required for completion"), default=True)


class QuizForm(BilingualTitle):
    gift_zh = TextAreaField(_l("Questions (Chinese, GIFT)"), validators=[DataRequired()])
    gift_en = TextAreaField(_l("Questions (English, GIFT)"))
    pass_mark = DecimalField(_l("Pass mark (%)"), validators=[InputRequired(), NumberRange(0, 100)])
    max_attempts = IntegerField(
        _l("Attempts allowed (0 = unlimited)"), validators=[InputRequired(), NumberRange(min=0)]
    )
    time_limit = IntegerField(
        _l("Time limit in minutes (0 = none)"), validators=[InputRequired(), NumberRange(min=0)]
    )
    shuffle = BooleanField(_l("Shuffle questions and choices"))
    review = SelectField(
        _l("After submitting, show"),
        choices=[
            SelectChoice(
                "after_final", _l("the score; the answers once passed or out of attempts")
            ),
            SelectChoice("immediate", _l("the score, correct answers and feedback")),
            SelectChoice("score", _l("the score only")),
        ],
    )
    grading = SelectField(
        _l("Quiz grade"),
        choices=[
            SelectChoice("highest", _l("highest attempt")),
            SelectChoice("last", _l("last attempt")),
            SelectChoice("first", _l("first attempt")),
            SelectChoice("average", _l("average of attempts")),
        ],
    )
    draw = IntegerField(
        _l("Questions drawn at random per attempt (0 = all)"),
        validators=[InputRequired(), NumberRange(min=0)],
    )
    draw_category = StringField(_l("Draw from the category"), validators=[Length(max=200)])
    is_required = BooleanField(_l("Required for completion"), default=True)


class GiftImportForm(FlaskForm):
    upload = FileField(_l("GIFT file"), validators=[FileSize(max_size=2 * 1024 * 1024)])
    text = TextAreaField(_l("or paste GIFT text"))
    language = SelectField(
        _l("Language"), choices=[SelectChoice("zh", "简体中文"), SelectChoice("en", "English")]
    )


class SubmitDraftForm(FlaskForm):
    note = TextAreaField(_l("What changed"), validators=[DataRequired(), Length(max=2000)])
    is_material = BooleanField(_l("Material change"))


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Reviewer's comment"), validators=[Length(max=2000)])


class SettingsForm(FlaskForm):
    allow_self_publish = BooleanField(
        _l("A trainer may publish their own draft without a second trainer's review")
    )


class TrackForm(CourseForm):
    job_roles = SelectMultipleField(_l("Assigned to the job roles"))
    requires = SelectMultipleField(_l("Requires the tracks"))


class RosterForm(FlaskForm):
    upload = FileField(_l("Staff roster (CSV)"), validators=[FileSize(max_size=4 * 1024 * 1024)])
    # The checked file's text, posted back with the confirmation instead of a second upload.
    text = TextAreaField()
    full = BooleanField(_l("Full roster: deactivate active staff who are not in the file"))

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.upload.data and not self.text.data:
            self.upload.errors.append(_l("Choose a CSV file."))
            return False
        return True


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    rule_job_role = SelectField(_l("Rule: job role"))
    rule_level = StringField(_l("Rule: level"), validators=[Length(max=40)])
    rule_branch = StringField(_l("Rule: branch"), validators=[Length(max=120)])


class MemberForm(FlaskForm):
    person = StringField(
        _l("Employee number or username"), validators=[DataRequired(), Length(max=80)]
    )


class AssignmentForm(FlaskForm):
    target = SelectField(_l("Assign to"))
    person = StringField(_l("Employee number or username"), validators=[Length(max=80)])
    what = SelectField(_l("Track or course"))
    is_mandatory = BooleanField(_l("Mandatory"), default=True)
    due_date = DateField(_l("Due on"), validators=[Optional()])
    due_days = IntegerField(_l("or due N days after"), validators=[Optional(), NumberRange(min=0)])
    due_from = SelectField(
        _l("counted from"),
        choices=[
            SelectChoice("assignment", _l("the assignment")),
            SelectChoice("hire", _l("the hire date")),
        ],
    )
    valid_months = IntegerField(
        _l("Completion valid for N months (empty = for good)"),
        validators=[Optional(), NumberRange(min=1, max=120)],
    )
    renew_on = StringField(
        _l("or valid until this date each year (MM-DD)"),
        validators=[Optional(), Regexp(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")],
    )
    window_days = IntegerField(
        _l("Reassigned N days before it expires"),
        default=30,
        validators=[InputRequired(), NumberRange(min=0, max=365)],
    )


class ExternalRecordForm(FlaskForm):
    course = SelectField(_l("Course"), coerce=int)
    completed_on = DateField(_l("Completed on"), validators=[InputRequired()])
    note = TextAreaField(_l("Evidence"), validators=[DataRequired(), Length(max=2000)])


class RevokeForm(FlaskForm):
    note = TextAreaField(_l("Why"), validators=[DataRequired(), Length(max=2000)])


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = StringField(
        _l("Email"),
        validators=[Optional(), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), Length(max=200)],
    )
    employee_no = StringField(_l("Employee number"), validators=[Length(max=40)])
    branch = StringField(_l("Branch"), validators=[Length(max=120)])
    department = StringField(_l("Department"), validators=[Length(max=120)])
    job_role = SelectField(_l("Job role"))
    level = StringField(_l("Level"), validators=[Length(max=40)])
    hire_date = DateField(_l("Hire date"), validators=[Optional()])
    manager = StringField(_l("Line manager (employee number)"), validators=[Length(max=40)])
    roles = SelectMultipleField(_l("Platform roles"))
    is_active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("New password (empty = unchanged)"), validators=[Length(max=200)])
