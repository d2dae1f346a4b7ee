"""ClickSend's official Python SDK (clicksend-client) against the sandbox.

The SDK's pydantic models are strict (StrictInt, StrictStr), so these tests fail on any field
sent with the wrong JSON type, which is what makes the sandbox a faithful stand-in.
"""

from __future__ import annotations

import pytest

clicksend = pytest.importorskip("clicksend", reason="clicksend-client (test extra) not installed")
from clicksend.models import (  # noqa: E402
    CreateNewContactRequest,
    SendSmsRequest,
    SendSmsRequestMessagesInner,
)


def api_client(sb):
    cfg = clicksend.Configuration(
        host=sb.base_url.removesuffix("/v3"), username=sb.username, password=sb.api_key
    )
    return clicksend.ApiClient(cfg)


def test_view_lists(sandbox):
    res = clicksend.ListsApi(api_client(sandbox)).view_lists()
    assert res.http_code == 200 and res.response_code == "SUCCESS"
    assert res.data.total == len(res.data.data) > 0
    first = res.data.data[0]
    assert isinstance(first.list_id, int) and first.list_name
    assert first.contacts_count >= 0


def test_view_list_contacts(sandbox):
    api = api_client(sandbox)
    lists = clicksend.ListsApi(api).view_lists().data.data
    res = clicksend.ListsApi(api).view_list_contacts(str(lists[0].list_id))
    assert res.data.total == lists[0].contacts_count
    contact = res.data.data[0]
    assert contact.list_id == lists[0].list_id
    assert contact.phone_number.startswith("+") and isinstance(contact.date_added, int)
    assert contact.list_name == lists[0].list_name


def test_view_sms_history(sandbox):
    res = clicksend.SmsApi(api_client(sandbox)).view_sms_history(
        page=2, limit=20, q="status:completed"
    )
    assert res.data.current_page == 2 and res.data.per_page == 20
    assert len(res.data.data) == 20
    assert all(m.status == "Completed" for m in res.data.data)
    assert all(isinstance(m.var_date, int) for m in res.data.data)
    assert all(isinstance(m.message_price, str) for m in res.data.data)


def test_contact_create_update_delete(fresh):
    api = api_client(fresh)
    lists = clicksend.ListsApi(api)
    contacts = clicksend.ContactsApi(api)
    list_id = str(lists.view_lists().data.data[0].list_id)
    before = lists.view_list_contacts(list_id).data.total
    created = lists.create_new_contact(
        list_id,
        create_new_contact_request=CreateNewContactRequest(
            phone_number="+61411111111", first_name="Ann", last_name="Lee"
        ),
    ).data
    assert created.first_name == "Ann" and str(created.list_id) == list_id
    contact_id = str(created.contact_id)
    updated = contacts.update_contact(
        list_id,
        contact_id,
        create_new_contact_request=CreateNewContactRequest(
            phone_number="+61411111111", first_name="Anna"
        ),
    ).data
    assert updated.first_name == "Anna" and updated.last_name == "Lee"
    assert contacts.get_specific_contact(list_id, contact_id).data.first_name == "Anna"
    assert lists.view_list_contacts(list_id).data.total == before + 1
    deleted = contacts.delete_contact(list_id, contact_id)
    assert deleted.http_code == 200
    assert lists.view_list_contacts(list_id).data.total == before
    with pytest.raises(clicksend.exceptions.NotFoundException):
        contacts.get_specific_contact(list_id, contact_id)


def test_send_sms(fresh):
    sms = clicksend.SmsApi(api_client(fresh))
    before = sms.view_sms_history().data.total
    res = sms.send_sms(
        send_sms_request=SendSmsRequest(
            messages=[
                SendSmsRequestMessagesInner(
                    to="+61411111111", body="Hello from the SDK", source="sdk", var_from="csql"
                ),
                SendSmsRequestMessagesInner(
                    to="+61422222222", body="Second", source="sdk", var_from="csql"
                ),
            ]
        )
    )
    assert res.data.total_count == 2 and res.data.queued_count == 2
    ids = {m.message_id for m in res.data.messages}
    assert all(m.status == "SUCCESS" for m in res.data.messages)
    history = sms.view_sms_history(order_by="date:desc", limit=15).data
    assert history.total == before + 2
    assert ids <= {m.message_id for m in history.data}
