"""The staff roster import: parsing (pure), `flask staff import`, and the admin's page."""

import html
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import AuditEvent, Completion, Course, Role, User
from lms.roster import (
    RosterError,
    StaffRow,
    decode_roster,
    format_error,
    parse_roster,
    plan_import,
)
from tests.conftest import FIXTURES, PASSWORD

ROSTER = FIXTURES / "roster"
HEADER = "employee_id,name,email,branch,department,job_role,level,hire_date,manager_id"
STAFF = [
    StaffRow(2, "E1001", "王芳", "wang.fang@bank.example", "城东支行", "个人金融部",
             "customer_manager", "P3", date(2021, 3, 15), "E1004"),
    StaffRow(3, "E1002", "李雷", "li.lei@bank.example", "城东支行", "个人金融部",
             "new_customer_manager", "P1", date(2024, 7, 1), "E1001"),
    StaffRow(4, "E1003", "赵敏", "", "城西支行", "公司金融部",
             "corporate_customer_manager", "P4", date(2019, 9, 2), "E1004"),
    StaffRow(5, "E1004", "陈刚", "chen.gang@bank.example", "城东支行", "个人金融部",
             "senior_customer_manager", "P6", date(2015, 5, 20), ""),
    StaffRow(6, "E1005", "刘洋", "liu.yang@bank.example", "总行营业部", "公司金融部",
             "key_account_manager", "P5", date(2018, 1, 8), "E1004"),
    StaffRow(7, "E1006", "孙丽", "sun.li@bank.example", "城西支行", "风险管理部",
             "credit_officer", "P3", date(2020, 11, 30), "E1003"),
]  # fmt: skip


def read(name: str) -> str:
    return decode_roster((ROSTER / name).read_bytes())


def errors_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RosterError) as caught:
        parse_roster(text)
    return caught.value.errors


def staff(app, *args: str):
    return app.test_cli_runner().invoke(args=["staff", "import", *args])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def person(employee_no: str) -> User:
    return db.session.scalars(select(User).where(User.employee_no == employee_no)).one()


# Parsing: pure, no app.


def test_parses_the_english_roster():
    assert parse_roster(read("staff.csv")) == STAFF


def test_the_chinese_header_with_excels_bom_and_chinese_job_roles_reads_the_same():
    assert (ROSTER / "staff_zh_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert parse_roster(read("staff_zh_bom.csv")) == STAFF


def test_lists_every_bad_row_with_its_line_and_column():
    assert errors_of(read("bad.csv")) == [
        (2, "hire_date", "'2022-02-30' is not a date as YYYY-MM-DD"),
        (3, "name", "must not be empty"),
        (3, "job_role", "unknown job role 'teller' (a code such as customer_manager, or 客户经理)"),
        (4, "employee_id", "E2001 is already on line 2"),
        (4, "email", "'zheng.shuang.bank.example' is not an email address"),
        (4, "hire_date", "'2023/01/05' is not a date as YYYY-MM-DD"),
        (5, "job_role", "must not be empty"),
    ]


def test_errors_name_the_columns_as_the_file_writes_them():
    text = "工号,姓名,邮箱,支行,部门,岗位,职级,入职日期,直属上级\nE1,张三,,,,柜员,,2024-1-5,E1\n"
    assert errors_of(text) == [
        (2, "岗位", "unknown job role '柜员' (a code such as customer_manager, or 客户经理)"),
        (2, "入职日期", "'2024-1-5' is not a date as YYYY-MM-DD"),
        (2, "直属上级", "a person cannot be their own manager"),
    ]


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("", [(1, "", "the file is empty")]),
        (HEADER + "\n", [(1, "", "the file has no staff rows")]),
        (
            HEADER + ",phone,Name\nE1,张三,,,,customer_manager,,,,1,x\n",
            [(1, "phone", "unknown column"), (1, "Name", "the column appears twice")],
        ),
        (
            "employee_id,name,job_role\nE1,张三,customer_manager\n",
            [(1, c, "missing column") for c in ("email", "branch", "department", "level")]
            + [(1, c, "missing column") for c in ("hire_date", "manager_id")],
        ),
        (
            "工号,姓名,岗位\nE1,张三,客户经理\n",
            [
                (1, c, "missing column")
                for c in ("邮箱", "支行", "部门", "职级", "入职日期", "直属上级")
            ],
        ),
        (
            HEADER + "\nE1,张三,,,,customer_manager,,,,extra\n",
            [(2, "", "value 'extra' in column 10, which the header does not name")],
        ),
        (
            HEADER + "\nE1,张三,,,,customer_manager,,,\ne1,李四,,,,customer_manager,,,\n",
            [(3, "employee_id", "e1 is already on line 2")],
        ),
        (
            HEADER + "\n" + "E" * 41 + ",张三,,,,customer_manager,,,\n",
            [(2, "employee_id", "longer than 40 characters")],
        ),
    ],
)
def test_header_and_row_problems(text, errors):
    assert errors_of(text) == errors


def test_lines_count_from_the_header_across_blank_lines_and_quoted_line_breaks():
    text = HEADER + '\n\nE1,"张\n三",,,,customer_manager,,,\n,,,,,,,,\nE2,,,,,customer_manager,,,\n'
    assert errors_of(text) == [(6, "name", "must not be empty")]


@pytest.mark.parametrize(
    ("written", "job_role"),
    [
        ("customer_manager", "customer_manager"),
        ("Credit_Officer", "credit_officer"),
        ("新任客户经理", "new_customer_manager"),
        ("大客户经理", "key_account_manager"),
        ("对公客户经理", "corporate_customer_manager"),
    ],
)
def test_job_roles_by_code_or_chinese_name(written, job_role):
    (row,) = parse_roster(f"{HEADER}\nE1,张三,,,,{written},,,\n")
    assert row.job_role == job_role


def test_a_short_row_reads_as_empty_cells_and_cells_are_trimmed():
    (row,) = parse_roster(f"{HEADER}\n E1 , 张三 ,,,,customer_manager\n")
    assert (row.employee_no, row.name, row.hire_date, row.manager_no) == ("E1", "张三", None, "")
    assert row.username == "e1"


def test_a_file_excel_saved_in_gbk_is_refused_with_advice():
    with pytest.raises(RosterError) as caught:
        decode_roster(f"{HEADER}\nE1,张三,,,,客户经理,,,\n".encode("gbk"))
    assert caught.value.errors == [
        (2, "", "not UTF-8 text: in Excel, save as 'CSV UTF-8 (comma delimited)'")
    ]


def test_an_error_without_a_column_names_only_the_line():
    assert format_error(3, "name", "must not be empty") == "line 3, column name: must not be empty"
    assert format_error(1, "", "the file is empty") == "line 1: the file is empty"


# The command line, on the database.


def test_import_creates_learners_without_a_usable_password(app):
    result = staff(app, str(ROSTER / "staff.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        *(f"create {row.employee_no} {row.name}" for row in STAFF),
        "created 6, updated 0, unchanged 0, deactivated 0",
    ]
    wang = person("E1001")
    assert (wang.username, wang.name, wang.email) == ("e1001", "王芳", "wang.fang@bank.example")
    assert (wang.branch, wang.department, wang.level) == ("城东支行", "个人金融部", "P3")
    assert (wang.job_role, wang.hire_date, wang.is_active) == (
        "customer_manager",
        STAFF[0].hire_date,
        True,
    )
    assert wang.role_names == {Role.LEARNER}
    assert not wang.check_password("")
    assert not wang.check_password(wang.password_hash)
    assert "password" not in result.output.lower()
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_id) == ("staff_import", None)
    assert event.details == {
        "created": 6, "updated": 0, "unchanged": 0, "deactivated": 0, "full": False
    }  # fmt: skip


def test_managers_are_linked_also_when_they_come_later_in_the_file(app):
    staff(app, str(ROSTER / "staff.csv"))
    chen, zhao = person("E1004"), person("E1003")
    assert person("E1001").manager_id == chen.id  # E1004 is four lines further down
    assert person("E1006").manager_id == zhao.id
    assert chen.manager_id is None


def test_a_manager_may_be_someone_already_on_the_platform(app, make_user, tmp_path):
    boss = make_user("boss")
    boss.employee_no = "E0001"
    db.session.commit()
    path = tmp_path / "one.csv"
    path.write_text(f"{HEADER}\nE3001,周杰,,,,customer_manager,,,E0001\n", encoding="utf-8")
    result = staff(app, str(path))
    assert result.stdout == "create E3001 周杰\ncreated 1, updated 0, unchanged 0, deactivated 0\n"
    assert person("E3001").manager_id == boss.id


def test_the_chinese_roster_imports_the_same_people(app):
    result = staff(app, str(ROSTER / "staff_zh_bom.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("created 6, updated 0, unchanged 0, deactivated 0\n")
    assert person("E1005").job_role == "key_account_manager"
    assert person("E1002").manager_id == person("E1001").id


def test_a_bad_roster_prints_every_error_and_writes_nothing(app):
    result = staff(app, str(ROSTER / "bad.csv"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 2, column hire_date: '2022-02-30' is not a date as YYYY-MM-DD",
        "line 3, column name: must not be empty",
        "line 3, column job_role: unknown job role 'teller' (a code such as customer_manager, "
        "or 客户经理)",
        "line 4, column employee_id: E2001 is already on line 2",
        "line 4, column email: 'zheng.shuang.bank.example' is not an email address",
        "line 4, column hire_date: '2023/01/05' is not a date as YYYY-MM-DD",
        "line 4, column manager_id: no one has the employee_id 'E9999', in the file or on the "
        "platform",
        "line 5, column job_role: must not be empty",
    ]
    assert count(User) == 0
    assert count(AuditEvent) == 0


def test_a_username_already_taken_is_an_error(app, make_user):
    make_user("e1003")
    result = staff(app, str(ROSTER / "staff.csv"))
    assert result.exit_code == 1
    assert result.stderr == "line 4, column employee_id: the username 'e1003' is already taken\n"
    assert count(User) == 1


def test_dry_run_shows_the_plan_and_writes_nothing(app):
    staff(app, str(ROSTER / "staff.csv"))
    result = staff(app, "--dry-run", "--full", str(ROSTER / "staff_update.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "dry run: nothing is written",
        "create E1007 吴桐",
        "update E1002 李雷: job_role new_customer_manager -> customer_manager; level P1 -> P2; "
        "manager_id E1001 -> E1004",
        "update E1003 赵敏: branch 城西支行 -> 城南支行",
        "deactivate E1006 孙丽",
        "created 1, updated 2, unchanged 3, deactivated 1",
    ]
    db.session.rollback()
    assert count(User) == 6
    assert person("E1002").job_role == "new_customer_manager"
    assert person("E1006").is_active
    assert count(AuditEvent) == 1


def test_reimport_updates_in_place_and_reports_the_unchanged(app):
    staff(app, str(ROSTER / "staff.csv"))
    ids = {row.employee_no: person(row.employee_no).id for row in STAFF}
    again = staff(app, str(ROSTER / "staff.csv"))
    assert again.stdout == "created 0, updated 0, unchanged 6, deactivated 0\n"
    result = staff(app, str(ROSTER / "staff_update.csv"))
    assert result.stdout.splitlines()[-1] == "created 1, updated 2, unchanged 3, deactivated 0"
    assert count(User) == 7
    li = person("E1002")
    assert (li.id, li.job_role, li.level) == (ids["E1002"], "customer_manager", "P2")
    assert li.manager_id == ids["E1004"]
    assert person("E1006").is_active  # not a full roster: absence means nothing


def test_updates_never_touch_password_username_or_roles(app, make_user):
    wang = make_user("wang.fang", roles={Role.TRAINER, Role.LEARNER})
    wang.employee_no = "E1001"
    db.session.commit()
    hash_before = wang.password_hash
    result = staff(app, str(ROSTER / "staff.csv"))
    assert "update E1001 王芳: name Wang.Fang -> 王芳; email - -> wang.fang@bank.example" in (
        result.stdout
    )
    db.session.refresh(wang)
    assert (wang.username, wang.name, wang.password_hash) == ("wang.fang", "王芳", hash_before)
    assert wang.check_password(PASSWORD)
    assert wang.role_names == {Role.TRAINER, Role.LEARNER}


def test_full_roster_deactivates_who_left_keeps_their_records_and_spares_admins(
    app, make_user, load_courses
):
    load_courses()
    admin = make_user("admin", roles={Role.ADMIN})
    staff(app, str(ROSTER / "staff.csv"))
    course = db.session.scalars(select(Course)).first()
    db.session.add(Completion(user_id=person("E1006").id, course_id=course.id, percent=90.0))
    db.session.commit()

    result = staff(app, "--full", str(ROSTER / "staff_update.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "created 1, updated 2, unchanged 3, deactivated 1"
    db.session.rollback()
    sun = person("E1006")
    assert not sun.is_active
    assert (sun.name, sun.branch, sun.job_role) == ("孙丽", "城西支行", "credit_officer")
    assert db.session.scalars(select(Completion)).one().user_id == sun.id
    assert db.session.get(User, admin.id).is_active

    back = staff(app, str(ROSTER / "staff.csv"))
    assert "update E1006 孙丽: is_active no -> yes" in back.stdout.splitlines()
    db.session.rollback()
    assert person("E1006").is_active


def test_without_full_no_one_is_planned_to_leave(app):
    staff(app, str(ROSTER / "staff.csv"))
    plan = plan_import(parse_roster(read("staff_update.csv")), full=False)
    assert plan.to_deactivate == ()
    assert [d.employee_no for d in plan_import(plan.unchanged, full=True).to_deactivate] == [
        "E1002", "E1003", "E1006"
    ]  # fmt: skip


# The admin's page.


def upload(client, name: str, **data):
    data["upload"] = (io.BytesIO((ROSTER / name).read_bytes()), name)
    return client.post("/admin/roster", data=data, content_type="multipart/form-data")


def posted_back_text(page: str) -> str:
    found = re.search(r'<textarea name="text" hidden>\n(.*?)</textarea>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


@pytest.fixture
def admin_client(app, make_user):
    admin = make_user("admin", roles={Role.ADMIN})
    admin.locale = "en"
    db.session.commit()
    return app.test_client(user=admin)


def test_admin_uploads_sees_the_plan_then_confirms(app, admin_client):
    assert b"/admin/roster" in admin_client.get("/admin/").data
    form = admin_client.get("/admin/roster")
    assert form.status_code == 200
    assert b'type="file"' in form.data

    checked = upload(admin_client, "staff_zh_bom.csv")
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200
    assert "created 6, updated 0, unchanged 0, deactivated 0" in page
    assert "陈刚" in page
    assert "Key-account manager" in page
    assert count(User) == 1

    text = posted_back_text(page)
    assert parse_roster(text) == STAFF
    done = admin_client.post(
        "/admin/roster",
        data={"text": text, "confirm": "1"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Roster imported: created 6, updated 0, unchanged 0, deactivated 0." in done.get_data(
        as_text=True
    )
    assert count(User) == 7
    assert person("E1001").manager_id == person("E1004").id
    event = db.session.scalars(select(AuditEvent)).one()
    assert event.actor.username == "admin"


def test_the_full_roster_choice_survives_the_confirmation(app, admin_client):
    staff(app, str(ROSTER / "staff.csv"))
    page = upload(admin_client, "staff_update.csv", full="y").get_data(as_text=True)
    assert "孙丽" in page
    assert "城西支行 → 城南支行" in page
    assert '<input type="hidden" name="full" value="y">' in page
    admin_client.post(
        "/admin/roster",
        data={"text": posted_back_text(page), "full": "y", "confirm": "1"},
        content_type="multipart/form-data",
    )
    assert not person("E1006").is_active
    assert person("E1007").is_active


def test_the_page_lists_the_errors_by_line_and_column_and_offers_no_confirmation(admin_client):
    page = upload(admin_client, "bad.csv").get_data(as_text=True)
    assert "line 3, column name: must not be empty" in page
    assert "line 4, column email:" in page
    assert 'name="confirm"' not in page
    assert count(User) == 1


def test_the_page_asks_for_a_file(admin_client):
    page = admin_client.post("/admin/roster", data={}).get_data(as_text=True)
    assert "Choose a CSV file." in page
    assert count(User) == 1


def test_a_file_too_large_to_post_back_is_sent_to_the_command_line(app, admin_client):
    # Above werkzeug's 64 KiB read size, which the limit must exceed for any upload to work.
    app.config["MAX_FORM_MEMORY_SIZE"] = 100_000
    rows = (
        f"E{n:05d},员工{n},e{n}@bank.example,城东支行,个人金融部,客户经理,P1,," for n in range(2000)
    )
    data = "\n".join([HEADER, *rows]).encode()
    assert len(data) > 100_000
    page = admin_client.post(
        "/admin/roster",
        data={"upload": (io.BytesIO(data), "big.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "created 2000, updated 0, unchanged 0, deactivated 0" in page
    assert "flask --app run.py staff import FILE" in page
    assert 'name="confirm"' not in page


@pytest.mark.parametrize("role", [Role.LEARNER, Role.TRAINER, Role.HR])
def test_only_admins_may_import(app, make_user, role):
    client = app.test_client(user=make_user("someone", roles={role}))
    assert client.get("/admin/roster").status_code == 403
    response = client.post(
        "/admin/roster",
        data={"text": read("staff.csv"), "confirm": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert count(User) == 1


def test_an_admin_creates_and_edits_a_person_in_the_browser(app, make_user):
    from lms.models import User

    admin = app.test_client(user=make_user("boss", roles={Role.ADMIN}))
    form = {
        "username": "wang.fang",
        "name": "王芳",
        "employee_no": "E9001",
        "job_role": "credit_officer",
        "roles": ["learner"],
        "is_active": "y",
        "password": "a long first password",
    }
    assert admin.post("/admin/users/new", data={**form, "password": ""}).status_code == 200
    admin.post("/admin/users/new", data=form)
    person = db.session.scalar(select(User).where(User.username == "wang.fang"))
    assert (person.job_role, person.role_names) == ("credit_officer", {"learner"})
    assert person.check_password("a long first password")
    admin.post(
        f"/admin/users/{person.id}",
        data={**form, "job_role": "customer_manager", "password": "", "manager": "E404"},
    )
    db.session.refresh(person)
    assert person.job_role == "credit_officer"  # an unknown manager changes nothing
    admin.post(
        f"/admin/users/{person.id}", data={**form, "job_role": "customer_manager", "password": ""}
    )
    db.session.refresh(person)
    assert person.job_role == "customer_manager"
    assert person.check_password("a long first password")
